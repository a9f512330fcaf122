"""Whose request is being routed: the per-call keywords routing takes and passes through.

``route_request``/``route_stream`` take ``api_key`` (a tenant's virtual key), ``extra_headers``,
``attribution`` and ``tenant_id``. :func:`tenant_call` takes them out of the request's keywords
once; the result labels the request in the routing state (the given id, else a keyed hash of the
key, never the key), limits its candidates to what the key may call, and gives every attempt
the same keywords, request id and W3C ``traceparent``. Providers that are not a
:class:`~muxer_litellm.host.TenantProvider` get none of them.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr, ValidationError

from .._utils import check_tenant_id, tenant_label, validation_problems
from ..errors import BadRequestError, ProviderError
from ..host import Attribution, LLMProvider, TenantProvider

__all__ = ["TENANT_KEYWORDS", "TenantCall", "allowed_models", "tenant_call"]

#: The request keywords routing reads for the tenant (and never sends in a body).
TENANT_KEYWORDS = ("api_key", "extra_headers", "attribution", "tenant_id")


@dataclass(frozen=True, slots=True)
class TenantCall:
    """One routed request's tenant. ``tenant``: its label in the routing state (None: the
    providers' own keys); ``attribution`` always has a ``request_id`` and a ``traceparent``."""

    tenant: str | None
    api_key: SecretStr | None
    extra_headers: Mapping[str, str] | None
    attribution: Attribution

    def kwargs_for(self, provider: LLMProvider, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """``kwargs`` plus this tenant's keywords when ``provider`` takes them."""
        if not isinstance(provider, TenantProvider):
            return dict(kwargs)
        extra: dict[str, Any] = {"attribution": self.attribution}
        if self.api_key is not None:
            extra["api_key"] = self.api_key
        if self.extra_headers:
            extra["extra_headers"] = self.extra_headers
        if self.tenant is not None:
            extra["tenant_id"] = self.tenant
        return {**kwargs, **extra}


def _traceparent() -> str:
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def tenant_call(kwargs: MutableMapping[str, Any], hash_key: bytes) -> TenantCall:
    """Take the tenant keywords out of ``kwargs`` (a routed request's own keywords)."""
    api_key = kwargs.pop("api_key", None)
    extra_headers = kwargs.pop("extra_headers", None)
    attribution = kwargs.pop("attribution", None)
    tenant_id = kwargs.pop("tenant_id", None)
    if api_key is not None and not isinstance(api_key, (str, SecretStr)):
        raise BadRequestError(f"api_key must be a string, got {type(api_key).__name__}")
    if extra_headers is not None and not isinstance(extra_headers, Mapping):
        raise BadRequestError(f"extra_headers must be a mapping, got {type(extra_headers).__name__}")
    if attribution is None:
        attribution = Attribution()
    elif not isinstance(attribution, Attribution):
        try:
            attribution = Attribution.model_validate(attribution)
        except ValidationError as exc:
            raise BadRequestError(f"attribution is invalid: {validation_problems(exc)}") from None
    update: dict[str, str] = {}
    if attribution.request_id is None:
        update["request_id"] = uuid.uuid4().hex
    if attribution.traceparent is None:
        update["traceparent"] = _traceparent()
    if update:
        attribution = attribution.model_copy(update=update)
    key = SecretStr(api_key) if isinstance(api_key, str) else api_key
    label: str | None = None
    if tenant_id is not None:
        try:
            label = check_tenant_id(tenant_id)
        except ValueError as exc:
            raise BadRequestError(str(exc)) from None
    elif key is not None:
        label = tenant_label(key.get_secret_value().strip(), hash_key)
    return TenantCall(label, key, dict(extra_headers) if extra_headers else None, attribution)


async def allowed_models(
    providers: Mapping[str, LLMProvider], names: Sequence[str], tenant: TenantCall
) -> dict[str, frozenset[str]]:
    """What the tenant's key may call, by provider (only providers that can say: a
    :class:`TenantProvider` asked with the tenant's own key). A provider that fails to say is
    left out (its calls then fail with the key's own typed error)."""
    if tenant.api_key is None:
        return {}
    out: dict[str, frozenset[str]] = {}
    for name in names:
        provider = providers[name]
        if not isinstance(provider, TenantProvider):
            continue
        try:
            allowed = await provider.allowed_models(tenant.api_key)
        except ProviderError:
            continue
        if allowed is not None:
            out[name] = allowed
    return out
