"""``routing/state/signals.py``: each live signal on its own (latency decay and percentiles, the
minimum sample count, staleness, in flight, the error rate, headroom: unknown is not zero, calls
started since a reading count against it, resets, deployments, tokens) and the aggregate a
replica publishes, read back by another replica's view (malformed parts ignored)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from muxer_litellm.host import Headroom
from muxer_litellm.routing.state.signals import SignalBook, SignalSettings, bucket_ms, bucket_of
from tests.unit.routing.helpers import Clock

KEY = "p/m"


def book(clock: Clock | None = None, **settings: Any) -> SignalBook:
    return SignalBook(SignalSettings(**settings), clock=clock or Clock())


def samples(b: SignalBook, *values: float, key: str = KEY, kind: Any = "total") -> None:
    for v in values:
        b.record_latency(key, kind, v)


def test_buckets_hold_latencies_within_a_few_percent() -> None:
    for ms in (0.5, 3.0, 50.0, 120.0, 480.0, 6000.0):
        assert bucket_ms(bucket_of(ms)) == pytest.approx(ms, rel=0.026)
    assert bucket_of(40.0) < bucket_of(50.0) < bucket_of(60.0)


def test_latency_is_unknown_below_the_minimum_sample_count() -> None:
    b = book(min_samples=3)
    samples(b, 100.0, 100.0)
    assert b.view().latency(KEY, "total") is None
    assert b.view().samples(KEY, "total") == 2
    samples(b, 100.0)
    assert b.view().latency(KEY, "total") == pytest.approx(100.0, rel=0.03)
    assert b.view().latency(KEY, "ttft") is None  # another kind, unmeasured


def test_the_histogram_decays_so_the_median_follows_recent_calls() -> None:
    b = book(alpha=0.2)
    samples(b, *[50.0] * 20)
    assert b.view().latency(KEY, "total") == pytest.approx(50.0, rel=0.03)
    samples(b, 600.0, 600.0)
    assert b.view().latency(KEY, "total") == pytest.approx(50.0, rel=0.03)  # two slow calls are not the median yet
    assert b.view().latency(KEY, "total", 0.9) == pytest.approx(600.0, rel=0.03)  # but the tail sees them
    samples(b, 600.0, 600.0)
    assert b.view().latency(KEY, "total") == pytest.approx(600.0, rel=0.03)  # 1 - 0.8**4 > half the weight


def test_a_slower_alpha_reacts_later() -> None:
    b = book(alpha=0.05)
    samples(b, *[50.0] * 20)
    samples(b, *[600.0] * 4)
    assert b.view().latency(KEY, "total") == pytest.approx(50.0, rel=0.03)


def test_slowing_compares_the_recent_mean_with_the_baseline() -> None:
    b = book()
    samples(b, *[100.0] * 30)
    assert not b.view().slowing(KEY, "total", 1.5)
    samples(b, *[400.0] * 5)
    assert b.view().slowing(KEY, "total", 1.5)


def test_latency_goes_stale_and_the_target_counts_as_untried_again() -> None:
    clock = Clock()
    b = book(clock, stale_after=60.0)
    samples(b, 100.0, 100.0, 100.0)
    clock.now += 61
    assert b.view().samples(KEY, "total") == 0
    assert b.view().latency(KEY, "total") is None


def test_negative_or_non_finite_latencies_are_ignored() -> None:
    b = book(min_samples=1)
    samples(b, -5.0, float("nan"), float("inf"))
    assert b.view().samples(KEY, "total") == 0


def test_deployment_latency_is_kept_beside_the_target() -> None:
    b = book(min_samples=1)
    b.record_latency(KEY, "total", 80.0, deployment="dep-1")
    b.record_latency(KEY, "total", 300.0, deployment="dep-2")
    view = b.view()
    assert view.latency(f"{KEY}@dep-1", "total") == pytest.approx(80.0, rel=0.03)
    assert view.latency(f"{KEY}@dep-2", "total") == pytest.approx(300.0, rel=0.03)
    assert view.samples(KEY, "total") == 2


def test_in_flight_counts_started_calls_until_they_end() -> None:
    b = book()
    b.started(KEY)
    b.started(KEY)
    assert b.view().in_flight(KEY) == 2
    b.ended(KEY, ok=True)
    b.ended(KEY, ok=None)
    b.ended(KEY, ok=None)  # an extra end never goes below zero
    assert b.view().in_flight(KEY) == 0


def test_error_rate_decays_and_needs_the_minimum_outcomes() -> None:
    b = book(alpha=0.5, min_samples=2)
    b.started(KEY)
    b.ended(KEY, ok=False)
    assert b.view().error_rate(KEY) is None
    b.started(KEY)
    b.ended(KEY, ok=False)
    assert b.view().error_rate(KEY) == pytest.approx(0.75)
    for _ in range(3):
        b.started(KEY)
        b.ended(KEY, ok=True)
    assert b.view().error_rate(KEY) == pytest.approx(0.09375)
    b.started(KEY)
    b.ended(KEY, ok=None)  # says nothing about the target
    assert b.view().error_rate(KEY) == pytest.approx(0.09375)


# ---------------------------------------------------------------------- headroom


def test_absent_headroom_is_unknown_and_never_blocks() -> None:
    b = book()
    n = b.started(KEY)
    b.observe_headroom(KEY, Headroom(limit_requests=100), n)
    assert b.view().headroom(KEY) is None
    b.observe_headroom(KEY, Headroom(remaining_tokens=None, reset_requests=3.0), n)
    assert b.view().headroom(KEY) is None


def test_zero_remaining_requests_blocks_until_the_reset_then_admits_again() -> None:
    clock = Clock()
    b = book(clock)
    n = b.started(KEY)
    b.ended(KEY, ok=True)
    b.observe_headroom(KEY, Headroom(remaining_requests=0, reset_requests=4.1), n)
    block = b.view().headroom(KEY)
    assert block is not None
    assert (block.kind, block.left) == ("requests", 0)
    assert block.reset == pytest.approx(4.1)
    assert block.reason("litellm/smart-chat") == "skipped litellm/smart-chat: 0 requests left until reset in 4.1 s"
    clock.now += 4.0
    assert b.view().headroom(KEY) is not None
    clock.now += 0.2
    assert b.view().headroom(KEY) is None


def test_calls_started_after_the_reading_count_against_it() -> None:
    b = book()
    n = b.started(KEY)
    b.observe_headroom(KEY, Headroom(remaining_requests=2, reset_requests=2.0), n)
    b.ended(KEY, ok=True)
    assert b.view().headroom(KEY) is None
    b.started(KEY)
    assert b.view().headroom(KEY) is None  # one left
    b.started(KEY)
    block = b.view().headroom(KEY)
    assert block is not None
    assert block.left == 0
    assert b.view().headroom(KEY, reserve=0) is not None
    # A reserve skips earlier.
    fresh = book()
    m = fresh.started(KEY)
    fresh.observe_headroom(KEY, Headroom(remaining_requests=2, reset_requests=2.0), m)
    assert fresh.view().headroom(KEY, reserve=1) is None
    assert fresh.view().headroom(KEY, reserve=2) is not None


def test_an_older_reply_does_not_overwrite_a_newer_reading() -> None:
    b = book()
    first = b.started(KEY)
    second = b.started(KEY)
    b.observe_headroom(KEY, Headroom(remaining_requests=0, reset_requests=2.0), second)
    b.observe_headroom(KEY, Headroom(remaining_requests=5, reset_requests=2.0), first)  # arrived late
    assert b.view().headroom(KEY) is not None


def test_a_reading_without_a_reset_holds_for_the_headroom_ttl() -> None:
    clock = Clock()
    b = book(clock, headroom_ttl=1.0)
    b.observe_headroom(KEY, Headroom(remaining_requests=0), b.started(KEY))
    assert b.view().headroom(KEY) is not None
    clock.now += 1.01
    assert b.view().headroom(KEY) is None


def test_tokens_block_only_a_request_larger_than_what_is_left() -> None:
    b = book()
    b.observe_headroom(KEY, Headroom(remaining_tokens=500, reset_tokens=6.0), b.started(KEY))
    assert b.view().headroom(KEY, tokens=400) is None
    block = b.view().headroom(KEY, tokens=800)
    assert block is not None
    assert (block.kind, block.left) == ("tokens", 500)
    assert b.view().headroom(KEY, tokens=0) is None


def test_a_target_is_short_only_when_every_deployment_it_was_seen_on_is() -> None:
    b = book()
    b.observe_headroom(KEY, Headroom(remaining_requests=0, reset_requests=5.0, deployment="a"), b.started(KEY))
    assert b.view().headroom(KEY) is not None
    b.observe_headroom(KEY, Headroom(remaining_requests=50, reset_requests=5.0, deployment="b"), b.started(KEY))
    assert b.view().headroom(KEY) is None


# ---------------------------------------------------------------------- publishing and merging


def published(b: SignalBook) -> dict[str, Any]:
    """The aggregate as a shared store carries it (JSON and back)."""
    loaded: dict[str, Any] = json.loads(json.dumps(b.aggregate()))
    return loaded


def test_another_replicas_aggregate_merges_latency_load_and_errors() -> None:
    a, b = book(min_samples=3), book(min_samples=3)
    samples(a, 100.0, 100.0)
    samples(b, 100.0)  # neither has the minimum alone
    a.started(KEY)
    for _ in range(3):
        b.started(KEY)
        b.ended(KEY, ok=False)
    view = a.view([published(b)], age=[0.05])
    assert view.shared == 1
    assert view.samples(KEY, "total") == 3
    assert view.latency(KEY, "total") == pytest.approx(100.0, rel=0.03)
    assert view.in_flight(KEY) == 1
    assert view.error_rate(KEY) == pytest.approx(1 - 0.8**3)


def test_published_headroom_counts_from_when_it_was_published() -> None:
    a, b = book(), book()
    n = b.started(KEY)
    b.observe_headroom(KEY, Headroom(remaining_requests=0, reset_requests=3.0, deployment="d"), n)
    block = a.view([published(b)], age=[1.0]).headroom(KEY)
    assert block is not None
    assert block.reset == pytest.approx(2.0)
    assert a.view([published(b)], age=[3.5]).headroom(KEY) is None  # its reset has passed


def test_of_two_readings_of_one_window_the_lower_count_wins() -> None:
    a, b = book(), book()
    a.observe_headroom(KEY, Headroom(remaining_requests=5, reset_requests=2.0), a.started(KEY))
    b.observe_headroom(KEY, Headroom(remaining_requests=0, reset_requests=1.5), b.started(KEY))
    assert a.view([published(b)], age=[0.0]).headroom(KEY) is not None
    assert a.view().headroom(KEY) is None


def test_other_replicas_in_flight_calls_count_against_headroom() -> None:
    a, b = book(), book()
    a.observe_headroom(KEY, Headroom(remaining_requests=2, reset_requests=2.0), a.started(KEY))
    b.started(KEY)
    b.started(KEY)
    assert a.view().headroom(KEY) is None
    assert a.view([published(b)], age=[0.0]).headroom(KEY) is not None


@pytest.mark.parametrize(
    "garbage",
    [
        {KEY: "not a mapping"},
        {KEY: {"l": {"total": [1, 2]}}},
        {KEY: {"l": {"total": ["x", 1.0, 1.0, {}]}}},
        {KEY: {"l": {"total": [5, 100.0, 100.0, {"nope": 1, "-3": 1, "9999": 2}]}}},
        {KEY: {"f": "many", "e": ["bad", 3]}},
        {KEY: {"f": True, "e": [0.5]}},
        {KEY: {"h": [["d", "lots", 1.0, None, 1.0], ["d"], "x", [3, 0, 1.0, None, 1.0], ["d", 0, "soon", None, 1.0]]}},
    ],
)
def test_malformed_published_parts_are_ignored(garbage: dict[str, Any]) -> None:
    a = book(min_samples=1)
    samples(a, 100.0)
    view = a.view([garbage], age=[0.0])
    assert view.latency(KEY, "total") == pytest.approx(100.0, rel=0.03)
    assert view.in_flight(KEY) == 0
    assert view.error_rate(KEY) is None
    assert view.headroom(KEY) is None


def test_the_aggregate_lists_only_what_is_known() -> None:
    clock = Clock()
    b = book(clock)
    assert b.aggregate() == {}
    b.started(KEY)
    b.observe_headroom(KEY, Headroom(remaining_requests=3, reset_requests=1.0), 1)
    entry = b.aggregate()[KEY]
    assert entry["f"] == 1
    assert "l" not in entry
    assert "e" not in entry
    assert entry["h"] == [["", 3, 1.0, None, 1.0]]
    clock.now += 2
    assert "h" not in b.aggregate()[KEY]  # its reset passed: nothing to share


def test_prometheus_gauges_show_the_signals_at_each_scrape() -> None:
    from prometheus_client import CollectorRegistry

    from muxer_litellm.routing import LocalStore, PrometheusSignalMetrics, RoutingState

    clock = Clock()
    state = RoutingState(clock=clock)
    registry = CollectorRegistry()
    registry.register(PrometheusSignalMetrics(LocalStore(state)))
    signals = state.signals
    for _ in range(3):
        signals.record_latency(KEY, "ttft", 120.0, deployment="dep-1")
    n = signals.started(KEY)
    signals.observe_headroom(KEY, Headroom(remaining_requests=7, remaining_tokens=900, reset_requests=2.0), n)

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(f"muxer_litellm_{name}", labels)

    assert value("routing_latency_ms", target=KEY, kind="ttft", quantile="0.5") == pytest.approx(120.0, rel=0.03)
    assert value("routing_latency_samples", target=KEY, kind="ttft") == 3
    assert value("routing_latency_samples", target=f"{KEY}@dep-1", kind="ttft") == 3
    assert value("routing_latency_samples", target=KEY, kind="total") is None
    assert value("routing_in_flight", target=KEY) == 1
    assert value("routing_error_rate", target=KEY) is None
    assert value("routing_headroom_remaining", target=KEY, limit="requests") == 7
    assert value("routing_headroom_remaining", target=KEY, limit="tokens") == 900
    clock.now += 3  # both readings' resets passed (the tokens' one defaulted to headroom_ttl)
    signals.ended(KEY, ok=True)
    assert value("routing_headroom_remaining", target=KEY, limit="requests") is None
    assert value("routing_in_flight", target=KEY) == 0


def callers(*starts: int, left: int) -> list[tuple[str, SignalBook]]:
    """Replicas ``r0, r1, ...`` that started ``starts[i]`` calls each, the last of them
    reporting ``left`` requests until a reset 5 s away; each has published its aggregate."""
    made = []
    for i, n in enumerate(starts):
        b = book()
        for _ in range(n):
            number = b.started(KEY)
            b.observe_headroom(KEY, Headroom(remaining_requests=left, reset_requests=5.0), number)
            b.ended(KEY, ok=True)
        made.append((f"r{i}", b))
    return made


def decide(replicas: list[tuple[str, SignalBook]]) -> dict[str, Any]:
    """Each replica's headroom decision from its own book and the others' last aggregates."""
    published = {rid: b.aggregate() for rid, b in replicas}
    out = {}
    for rid, b in replicas:
        others = [r for r, _ in replicas if r != rid]
        out[rid] = b.view([published[r] for r in others], age=[0.0] * len(others), ids=others, me=rid).headroom(KEY)
    return out


@pytest.mark.parametrize("left", [0, 1, 2, 3, 7])
def test_replicas_deciding_at_once_split_what_is_left_and_together_use_all_of_it(left: int) -> None:
    blocks = decide(callers(1, 1, 1, left=left))
    assert sum(1 for block in blocks.values() if block is None) == min(left, 3)


def test_the_replica_with_the_larger_share_of_recent_calls_gets_the_last_request() -> None:
    blocks = decide(callers(1, 4, 1, left=1))
    assert blocks["r1"] is None
    for rid in ("r0", "r2"):
        block = blocks[rid]
        assert block is not None
        assert block.share == (3, 0)
        reason = block.reason(KEY)
        assert "1 requests left until reset in 5.0 s, this replica's share 0 (3 replicas calling it)" in reason


def test_a_replicas_calls_the_others_have_not_seen_count_against_its_own_share() -> None:
    replicas = callers(1, 1, left=2)
    (a_id, a), (b_id, b) = replicas
    published_b, published_a = b.aggregate(), a.aggregate()
    assert a.view([published_b], age=[0.0], ids=[b_id], me=a_id).headroom(KEY) is None
    a.started(KEY)  # not published yet: b still sees 2 left and takes its share
    assert b.view([published_a], age=[0.0], ids=[a_id], me=b_id).headroom(KEY) is None
    block = a.view([published_b], age=[0.0], ids=[b_id], me=a_id).headroom(KEY)
    assert block is not None
    assert block.share == (2, 0)


def test_a_replica_that_never_called_the_target_leaves_a_short_count_to_those_that_did() -> None:
    ((b_id, b),) = callers(2, left=1)
    newcomer = book()
    view = newcomer.view([b.aggregate()], age=[0.0], ids=[b_id], me="r9")
    assert view.remaining(KEY) == (1, None)
    assert view.headroom(KEY) is not None
    assert b.view().headroom(KEY) is None  # alone, the whole count is its own


def test_a_published_reading_is_net_of_its_replicas_calls_in_flight_once_not_twice() -> None:
    a, b = book(), book()
    n = b.started(KEY)
    b.observe_headroom(KEY, Headroom(remaining_requests=3, reset_requests=5.0), n)
    b.started(KEY)  # in flight: published as 2 left and 1 in flight
    c = book()
    c.started(KEY)  # a third replica's call in flight counts against b's reading
    view = a.view([b.aggregate(), c.aggregate()], age=[0.0, 0.0], ids=["b", "c"], me="a")
    assert view.remaining(KEY) == (1, None)
    a.started(KEY)  # and so does this replica's own
    view = a.view([b.aggregate(), c.aggregate()], age=[0.0, 0.0], ids=["b", "c"], me="a")
    assert view.remaining(KEY) == (0, None)


def test_a_replica_kept_out_by_the_split_gets_its_part_once_its_demand_is_published() -> None:
    ((a_id, a),) = callers(1, left=9)
    b = book()
    assert b.view([a.aggregate()], age=[0.0], ids=[a_id], me="r9").headroom(KEY) is not None  # a newcomer
    published_b = b.aggregate()
    assert published_b[KEY]["w"] == 1.0  # the call it wanted counts as its demand
    assert b.view([a.aggregate()], age=[0.0], ids=[a_id], me="r9").headroom(KEY) is None
    assert a.view([published_b], age=[0.0], ids=["r9"], me=a_id).headroom(KEY) is None


def test_a_share_drifting_between_two_decisions_does_not_move_the_last_request() -> None:
    from muxer_litellm.routing.state.signals import _apportion

    before = {"a": 5.0, "b": 5.2, "c": 4.9}
    after = {**before, "b": 5.9}  # b published again (one more call) between a's and c's decisions
    takers = [r for r in before if _apportion(1, before, r)] + [r for r in after if _apportion(1, after, r)]
    assert takers == ["a", "a"]
    for weights in (before, after, {"a": 1.0, "b": 7.0, "c": 0.5}):
        for total in range(0, 8):
            assert sum(_apportion(total, weights, r) for r in weights) == total
