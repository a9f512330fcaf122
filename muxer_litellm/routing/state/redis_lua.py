"""The Lua scripts behind :class:`~.redis.RedisStore`: each operation is one script, so it
is atomic across every replica and costs one round trip.

Keys, all under the hash tag ``{prefix}`` (one Redis Cluster slot, so scripts may touch them together):

- ``{prefix}:seq``: the event counter. A block beginning, a counted failure and a trial gate
  taken each INCR it; a ticket carries the value it saw, so "admitted before the block began"
  is ``ticket.seq < mark``. It starts at Redis's TIME in microseconds, so it keeps growing when
  a Redis restart loses it (tickets issued before stay older than every later block).
- ``{prefix}:t:<provider/model>``: a hash per target (and ``{prefix}:t:@<tenant>|<provider>`` /
  ``{prefix}:t:@<tenant>|<provider/model>`` for one tenant's own waits, ``routing.state.local.scoped_key``;
  the tenant is an id or a keyed hash, never a key): ``k`` kind (``cooldown``/``breaker``/empty),
  ``u`` blocked until (ms), ``r`` reason, ``m`` mark, ``tr``/``tl`` the trial gate's ticket and
  lease end (ms), ``s`` failures in a row, ``b`` the burst mark. PEXPIRE'd to the end of its
  block (or trial lease) plus ``memory``.
- ``{prefix}:p:<provider>``: a hash per provider failing its health check: ``u`` until, ``e`` error;
  PEXPIRE'd to ``health_ttl``.
- ``{prefix}:idx``: a sorted set of the members above (``t:...``, ``p:...``) scored by when they
  expire, so one script can read every record a decision needs without SCAN; trimmed on every
  write and expiring with its last member.
- ``{prefix}:turn:<combo>``: a round-robin counter (INCR), kept for a day after its last turn.
- ``{prefix}:sig``: a hash of every replica's live signals (``signals.py``): replica id -> its
  published aggregate (JSON, opaque here), and ``<replica id>#v`` -> that aggregate's version
  (an older one arriving late is ignored); ``{prefix}:sigt``: a sorted set of the same replica
  ids scored by when each last published. A replica silent for ``shared ttl`` is dropped on the
  next publish; both keys expire ``shared ttl`` after the last publish.

Every record a decision needs is a member of ``idx`` under one hash tag, so :data:`SNAPSHOT` reads
them all in one script: tenants' waits ride along with the targets' blocks. Every script is given
the names of the keys it touches (``KEYS``), none builds one, as Redis Cluster requires: a
replica passes the records it knows of, and the snapshot names the live members it was not
given, which the replica then reads with a second snapshot (once per record new to it).

Only ``seq`` has no TTL (it must never go back). Time is Redis's own (TIME, in ms), never a
replica's clock: deadlines are stored as absolute Redis times and read back as time left against
the same clock, so replicas' clocks may differ. ``ARGV[1]`` overrides it only in tests (a fake
clock), when it is not empty.
"""

from __future__ import annotations

__all__ = ["ADMIT", "COOL_DOWN", "FAILURE", "HEALTH", "PUBLISH", "PUBLISH_SIGNALS", "RELEASE", "SNAPSHOT", "SUCCESS"]

_PRELUDE = r"""
local function now_ms()
  if ARGV[1] ~= '' then return tonumber(ARGV[1]) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function num(x) return string.format('%.0f', x) end

local function seq_get(k)
  local s = redis.call('GET', k)
  if s then return tonumber(s) end
  return 0
end

local function seq_next(k)
  if redis.call('EXISTS', k) == 0 then
    local t = redis.call('TIME')
    redis.call('SET', k, num(tonumber(t[1]) * 1000000 + tonumber(t[2])))
  end
  return redis.call('INCR', k)
end

local function load(key)
  local raw = redis.call('HGETALL', key)
  local r = {k = '', u = 0, r = '', m = 0, tr = 0, tl = 0, s = 0, b = 0}
  for i = 1, #raw, 2 do
    local f, v = raw[i], raw[i + 1]
    if f == 'k' or f == 'r' then r[f] = v else r[f] = tonumber(v) end
  end
  return r, #raw > 0
end

-- Drop index entries whose record has expired, and let the index itself expire with its last one.
local function trim(idx, now)
  redis.call('ZREMRANGEBYSCORE', idx, '-inf', num(now))
  local last = redis.call('ZRANGE', idx, -1, -1, 'WITHSCORES')
  if last[2] then redis.call('PEXPIRE', idx, math.max(1, math.floor(tonumber(last[2]) - now))) end
end

local function save(key, idx, member, r, now, memory)
  local keep = memory
  if r.k ~= '' and r.u - now + memory > keep then keep = r.u - now + memory end
  if r.tr ~= 0 and r.tl - now + memory > keep then keep = r.tl - now + memory end
  keep = math.floor(keep)
  redis.call('HSET', key, 'k', r.k, 'u', num(r.u), 'r', r.r, 'm', num(r.m), 'tr', num(r.tr),
    'tl', num(r.tl), 's', num(r.s), 'b', num(r.b))
  redis.call('PEXPIRE', key, keep)
  redis.call('ZADD', idx, num(now + keep), member)
  trim(idx, now)
end

local function block(seqkey, r, now, kind, ms, why, reset)
  r.k = kind
  r.u = now + ms
  r.r = why
  r.m = seq_next(seqkey)
  r.tr = 0
  r.tl = 0
  if reset then
    r.s = 0
    r.b = r.m
  end
end

-- Store this replica's signals (KEYS sig, sigt) unless a later version of them is there already
-- (two publishes of one replica may arrive out of order), and drop replicas silent for longer than ttl.
local function publish_signals(sig, sigt, now, replica, payload, ttl, version)
  local stored = tonumber(redis.call('HGET', sig, replica .. '#v') or '-1')
  if version >= stored then
    redis.call('HSET', sig, replica, payload, replica .. '#v', num(version))
    redis.call('ZADD', sigt, num(now), replica)
  end
  local stale = redis.call('ZRANGEBYSCORE', sigt, '-inf', '(' .. num(now - ttl))
  for _, gone in ipairs(stale) do
    redis.call('HDEL', sig, gone, gone .. '#v')
  end
  if #stale > 0 then redis.call('ZREM', sigt, unpack(stale)) end
  redis.call('PEXPIRE', sig, ttl)
  redis.call('PEXPIRE', sigt, ttl)
end

-- What a client needs to mirror the record: {found, kind, until, reason, trial, lease, streak}.
local function view(r, found)
  if not found then return {0, '', 0, '', 0, 0, 0} end
  return {1, r.k, num(r.u), r.r, num(r.tr), num(r.tl), num(r.s)}
end
"""

#: KEYS: seq, idx, sig, sigt, the records this replica knows of (n of them)[, turn]. ARGV: now,
#: advance ('1'/'0'), turn ttl ms, replica id, its signals to publish ('' = none this time),
#: signals ttl ms, their version, n, then the n records' idx members (``t:...``/``p:...``).
#: Returns {now, seq, turn (-1: none), json, signals, unknown}: json is [member, fields, member,
#: fields, ...] (one string, so a client decodes one value, not six per record); a target's fields
#: are [kind, until, reason, trial, lease, streak], a provider's [until, error], all strings.
#: signals: {replica, published at, aggregate, ...} of the other replicas heard from within the ttl.
#: unknown: live idx members whose keys were not passed (so not read: a script touches only the
#: keys it is given); the client learns them and reads again.
SNAPSHOT = (
    _PRELUDE
    + r"""
local now = now_ms()
local n = tonumber(ARGV[8])
local out = {num(now), num(seq_get(KEYS[1])), -1}
local turn = KEYS[5 + n]
if turn then
  if ARGV[2] == '1' then
    out[3] = redis.call('INCR', turn) - 1
    redis.call('PEXPIRE', turn, ARGV[3])
  else
    out[3] = tonumber(redis.call('GET', turn) or '0')
  end
end
local ttl = tonumber(ARGV[6])
if ARGV[5] ~= '' then publish_signals(KEYS[3], KEYS[4], now, ARGV[4], ARGV[5], ttl, tonumber(ARGV[7])) end
local heard = redis.call('ZRANGEBYSCORE', KEYS[4], '(' .. num(now - ttl), '+inf', 'WITHSCORES')
local signals = {}
for i = 1, #heard, 2 do
  if heard[i] ~= ARGV[4] then
    local payload = redis.call('HGET', KEYS[3], heard[i])
    if payload then
      table.insert(signals, heard[i])
      table.insert(signals, heard[i + 1])
      table.insert(signals, payload)
    end
  end
end
local passed = {}
for i = 1, n do passed[ARGV[8 + i]] = KEYS[4 + i] end
local members = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. num(now), '+inf')
local records, unknown = {}, {}
for _, m in ipairs(members) do
  local key = passed[m]
  if not key then
    table.insert(unknown, m)
  else
    local fields
    if string.sub(m, 1, 2) == 't:' then
      fields = redis.call('HMGET', key, 'k', 'u', 'r', 'tr', 'tl', 's')
    else
      fields = redis.call('HMGET', key, 'u', 'e')
    end
    if fields[1] then  -- gone (expired) since the index was written: skip it
      table.insert(records, m)
      table.insert(records, fields)
    end
  end
end
table.insert(out, cjson.encode(records))
table.insert(out, signals)
table.insert(out, unknown)
return out
"""
)

#: KEYS: sig, sigt. ARGV: now, replica id, its signals (aggregate JSON), signals ttl ms, their
#: version. This replica's signals when no snapshot carried them within the publish interval, or
#: at once for a target near its limit.
PUBLISH_SIGNALS = (
    _PRELUDE
    + r"""
local now = now_ms()
publish_signals(KEYS[1], KEYS[2], now, ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]))
return 1
"""
)

#: KEYS: seq, idx, target, provider[, the tenant's own records...]. ARGV: now, member, forced
#: ('1'/'0'), trial lease ms, memory ms. Returns {code, now, seq, extra, view...}; code: ok,
#: forced, trial (seq is the trial's), blocked, busy (a trial in flight), down (extra: the
#: provider's error, view: its until), scoped (extra: which tenant record, 1-based; view: it).
ADMIT = (
    _PRELUDE
    + r"""
local now = now_ms()
local p = redis.call('HMGET', KEYS[4], 'u', 'e')
if p[1] and tonumber(p[1]) > now then
  return {'down', num(now), num(seq_get(KEYS[1])), p[2] or '', {1, '', p[1], '', 0, 0, 0}}
end
for i = 5, #KEYS do
  local own, found = load(KEYS[i])
  if found and own.k ~= '' and own.u > now then
    return {'scoped', num(now), num(seq_get(KEYS[1])), tostring(i - 4), view(own, true)}
  end
end
local r, found = load(KEYS[3])
local s = seq_get(KEYS[1])
if r.k == '' then return {'ok', num(now), num(s), '', view(r, found)} end
if ARGV[3] == '1' and r.k == 'breaker' then return {'forced', num(now), num(s), '', view(r, found)} end
if r.u > now then return {'blocked', num(now), num(s), '', view(r, found)} end
if r.tr ~= 0 and r.tl > now then return {'busy', num(now), num(s), '', view(r, found)} end
r.tr = seq_next(KEYS[1])
r.tl = now + tonumber(ARGV[4])
save(KEYS[3], KEYS[2], ARGV[2], r, now, tonumber(ARGV[5]))
return {'trial', num(now), num(r.tr), '', view(r, true)}
"""
)

#: KEYS: seq, idx, target. ARGV: now, member, ticket seq ('' = admitted now), threshold,
#: breaker cooldown ms, memory ms. Returns {opened (1/0), now, seq, '', view}.
FAILURE = (
    _PRELUDE
    + r"""
local now = now_ms()
local r, found = load(KEYS[3])
local t = tonumber(ARGV[3]) or seq_get(KEYS[1])
local function result(opened) return {opened, num(now), num(seq_get(KEYS[1])), '', view(r, found)} end
if t < r.m then return result(0) end
local changed = false
if r.k ~= '' then
  if r.u > now then return result(0) end
  if r.k == 'breaker' then
    block(KEYS[1], r, now, 'breaker', tonumber(ARGV[5]), 'circuit open again after a failed trial', true)
    save(KEYS[3], KEYS[2], ARGV[2], r, now, tonumber(ARGV[6]))
    found = true
    return result(1)
  end
  r.k = ''
  r.tr = 0
  r.tl = 0
  changed = true
end
if t < r.b then
  if changed then save(KEYS[3], KEYS[2], ARGV[2], r, now, tonumber(ARGV[6])) end
  return result(0)
end
r.s = r.s + 1
r.b = seq_next(KEYS[1])
local opened = 0
if r.s >= tonumber(ARGV[4]) then
  local why = 'circuit open after ' .. num(r.s) .. ' failure(s) in a row'
  block(KEYS[1], r, now, 'breaker', tonumber(ARGV[5]), why, true)
  opened = 1
end
save(KEYS[3], KEYS[2], ARGV[2], r, now, tonumber(ARGV[6]))
found = true
return result(opened)
"""
)

#: KEYS: seq, idx, target. ARGV: now, member, ticket seq ('' = none), wait ms, reason, memory ms.
#: Returns {code (stale/longer/set), now, seq, '', view}.
COOL_DOWN = (
    _PRELUDE
    + r"""
local now = now_ms()
local r, found = load(KEYS[3])
local ms = tonumber(ARGV[4])
if ARGV[3] ~= '' and tonumber(ARGV[3]) < r.m then
  return {'stale', num(now), num(seq_get(KEYS[1])), '', view(r, found)}
end
if r.k ~= '' and r.u > now + ms then
  return {'longer', num(now), num(seq_get(KEYS[1])), '', view(r, found)}
end
block(KEYS[1], r, now, 'cooldown', ms, ARGV[5], false)
save(KEYS[3], KEYS[2], ARGV[2], r, now, tonumber(ARGV[6]))
return {'set', num(now), num(r.m), '', view(r, true)}
"""
)

#: KEYS: seq, idx, target. ARGV: now, member, ticket seq ('' = admitted now).
#: Returns {closed (1/0), now, seq, '', view}.
SUCCESS = (
    _PRELUDE
    + r"""
local now = now_ms()
local r, found = load(KEYS[3])
local t = tonumber(ARGV[3]) or seq_get(KEYS[1])
if not found or t < r.m then return {0, num(now), num(seq_get(KEYS[1])), '', view(r, found)} end
redis.call('DEL', KEYS[3])
redis.call('ZREM', KEYS[2], ARGV[2])
return {1, num(now), num(seq_get(KEYS[1])), '', view(r, false)}
"""
)

#: KEYS: seq, idx, target. ARGV: now, member, the trial ticket's seq. Frees the gate if it holds it.
RELEASE = (
    _PRELUDE
    + r"""
local now = now_ms()
local r, found = load(KEYS[3])
if found and r.tr == tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[3], 'tr', '0', 'tl', '0')
  r.tr = 0
  r.tl = 0
end
return {0, num(now), num(seq_get(KEYS[1])), '', view(r, found)}
"""
)

#: KEYS: provider, idx. ARGV: now, member, healthy ('1'/'0'), ttl ms, error, 'keep-longer' or ''
#: (keep a mark that lasts longer: what publishing after an outage wants).
HEALTH = (
    _PRELUDE
    + r"""
local now = now_ms()
if ARGV[3] == '1' then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[2])
  return 0
end
local ttl = math.floor(tonumber(ARGV[4]))
local until_ms = now + ttl
local current = tonumber(redis.call('HGET', KEYS[1], 'u') or '0')
if ARGV[6] == 'keep-longer' and current >= until_ms then return 0 end
redis.call('HSET', KEYS[1], 'u', num(until_ms), 'e', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('ZADD', KEYS[2], num(until_ms), ARGV[2])
trim(KEYS[2], now)
return 1
"""
)

#: KEYS: seq, idx, target. ARGV: now, member, kind (cooldown/breaker), ms left, reason, memory ms.
#: A block learned while Redis was out of reach, published when it is back: kept unless the
#: target is blocked longer already; calls admitted before count as in flight when it began.
PUBLISH = (
    _PRELUDE
    + r"""
local now = now_ms()
local r, found = load(KEYS[3])
local ms = tonumber(ARGV[4])
if r.k ~= '' and r.u >= now + ms then return 0 end
block(KEYS[1], r, now, ARGV[3], ms, ARGV[5], ARGV[3] == 'breaker')
save(KEYS[3], KEYS[2], ARGV[2], r, now, tonumber(ARGV[6]))
return 1
"""
)
