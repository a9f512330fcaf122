"""Hooks a test LiteLLM proxy loads from its config's directory (tests/integration/test_tenants.py
copies this file there): several virtual keys without a database, and a record of what the
proxy saw for each call.

- ``custom_auth``: ``general_settings.custom_auth: tenant_hooks.custom_auth``. The keys are
  the JSON object in ``MUXER_TEST_TENANTS`` (key -> ``UserAPIKeyAuth`` fields: ``rpm_limit``,
  ``models``, ``max_budget``, ``spend``...); the master key is accepted as the admin. Any other
  key is refused (the proxy answers 401).
- ``recorder``: ``litellm_settings.callbacks: tenant_hooks.recorder``. Appends one JSON line
  per successful call to the file ``MUXER_TEST_RECORD``: the end user, tags, trace id,
  spend-log metadata, model group and the key's hash, as the proxy's standard logging payload
  has them.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

from fastapi import Request
from litellm.integrations.custom_logger import CustomLogger
from litellm.proxy._types import LitellmUserRoles, ProxyErrorTypes, ProxyException, UserAPIKeyAuth


async def custom_auth(request: Request, api_key: str) -> UserAPIKeyAuth:
    if api_key == os.environ.get("LITELLM_MASTER_KEY"):
        return UserAPIKeyAuth(api_key=api_key, user_role=LitellmUserRoles.PROXY_ADMIN)
    tenants: dict[str, dict[str, Any]] = json.loads(os.environ.get("MUXER_TEST_TENANTS", "{}"))
    fields = tenants.get(api_key)
    if fields is None:
        raise ProxyException(message="unknown virtual key", type=ProxyErrorTypes.auth_error, param="api_key", code=401)
    return UserAPIKeyAuth(api_key=api_key, **fields)


class Recorder(CustomLogger):  # type: ignore[misc]
    async def async_log_success_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        slo = kwargs.get("standard_logging_object") or {}
        meta = slo.get("metadata") or {}
        row = {
            "end_user": slo.get("end_user"),
            "tags": slo.get("request_tags"),
            "trace_id": slo.get("trace_id"),
            "spend_logs_metadata": meta.get("spend_logs_metadata"),
            "model_group": slo.get("model_group"),
            "api_key_hash": meta.get("user_api_key_hash"),
        }
        path = os.environ.get("MUXER_TEST_RECORD")
        if path:
            await asyncio.to_thread(_append, path, json.dumps(row, default=str))


def _append(path: str, line: str) -> None:
    with open(path, "a", encoding="utf-8") as out:
        out.write(line + "\n")


recorder = Recorder()
