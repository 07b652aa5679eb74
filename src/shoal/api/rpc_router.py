"""Routing of RPC requests — ``json`` (``X-Amz-Target``) and ``smithy-rpc-v2-cbor``
(``/service/<name>/operation/<Operation>``) — to the service they name.

:class:`RpcApiService` is one such service's registry of handlers, made from its botocore model
(like :class:`shoal.api.dispatch.ApiService` for rest-json and
:class:`shoal.api.query_router.FormApiService` for ``Action=``)::

    logs_api = RpcApiService("logs")

    @logs_api.handles("DescribeLogGroups")
    async def describe_log_groups(call: Call) -> dict[str, Any]: ...

in a module named in ``shoal.core.API_MODULES``; the model's version is in
``shoal.api.model.SERVICE_VERSIONS``, the operations' IAM actions in
``shoal.identity.actions`` and the service's denial in ``shoal.identity.authorize.DENIED``.

A service answers in every RPC protocol its model lists (CloudWatch's lists cbor and json), in
the protocol the request came in. The two routers, :data:`json_router` and :data:`cbor_router`,
have the ``dispatch`` / ``auth_error`` / ``refused`` / ``too_large`` methods that
:mod:`shoal.api.asgi` calls on any service; a request that names a service nobody registered
or an operation its model does not have answers ``UnknownOperationException`` in the
protocol's own shape, never a JSON 404 its client cannot parse. The request id comes from
``shoal.api.asgi``, which sends it as ``x-amzn-RequestId``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from functools import cached_property
from types import ModuleType
from typing import TYPE_CHECKING, Any

from shoal.api import cbor_protocol, json_protocol
from shoal.api.codec import HttpResponse
from shoal.api.dispatch import Call, Registry, storage_message
from shoal.api.scope import INVALID_REGION, credential_scope, request_region
from shoal.errors import AwsError
from shoal.identity import failures
from shoal.identity.credentials import Credential
from shoal.identity.sigv4 import AuthFailure
from shoal.store.sqlite import StoreError

if TYPE_CHECKING:
    from shoal.core import Shoal

log = logging.getLogger("shoal.api")

RpcHandler = Callable[[Call], Awaitable[Mapping[str, Any] | None]]
# The wire module of each RPC protocol, by the name botocore's models give it.
PROTOCOLS: dict[str, ModuleType] = {
    json_protocol.PROTOCOL: json_protocol,
    cbor_protocol.PROTOCOL: cbor_protocol,
}
# Every RpcApiService made, by its model's name (API modules make theirs at import).
_REGISTRY: dict[str, RpcApiService] = {}


class RpcApiService(Registry[RpcHandler]):
    """The handlers of one json / smithy-rpc-v2-cbor service; its model is loaded on first
    use."""

    def __init__(self, service: str, validation_code: str | None = None) -> None:
        self.service = service
        # The code a model-constraint failure answers when the service's is not AWS's common
        # ValidationException (CloudWatch Logs: InvalidParameterException, same message).
        self.validation_code = validation_code
        self.handlers: dict[str, RpcHandler] = {}
        _REGISTRY[service] = self

    @cached_property
    def protocols(self) -> frozenset[str]:
        meta = self.model.metadata
        return frozenset(meta.get("protocols") or [meta["protocol"]]) & PROTOCOLS.keys()

    @property
    def target_prefix(self) -> str:
        return str(self.model.metadata["targetPrefix"])

    @property
    def signing_name(self) -> str:
        """botocore's choice: signingName, else endpointPrefix (CloudWatch's ``monitoring``)."""
        meta = self.model.metadata
        return str(meta.get("signingName") or meta.get("endpointPrefix") or self.service)

    @property
    def query_compatible(self) -> bool:
        return "awsQueryCompatible" in self.model.metadata

    @cached_property
    def internal_code(self) -> str:
        """The service's own internal error (KMS ``KMSInternalException``, CloudWatch
        ``InternalServiceError``), else AWS's common ``InternalFailure``."""
        for code, shape_name in self.model.errors.items():
            shape = self.model.shape(shape_name)
            server = shape.get("fault") or shape.get("error", {}).get("httpStatusCode") == 500
            if server and "nternal" in code:
                return code
        return "InternalFailure"


    async def answer(
        self, wire: ModuleType, operation: str, shoal: Shoal, headers: Mapping[str, str],
        body: bytes, base_url: str, request_id: str, credential: Credential | None,
        source_ip: str,
    ) -> HttpResponse:  # fmt: skip
        op = self.model.operations.get(operation)
        try:
            if op is None:
                raise unknown_operation(operation)
            handler = self.handlers.get(operation)
            if handler is None:
                raise AwsError("UnsupportedOperation", f"Shoal does not implement {operation}", 501)
            region = request_region(credential_scope(headers, {}), shoal.settings.region)
            if region is None:
                raise AwsError("InvalidSignatureException", INVALID_REGION, 400)
            params = self._parse(wire, op, body)
            call = Call(
                operation, params, shoal, headers, base_url, request_id, region,
                secure=base_url.startswith("https:"),
                principal=credential.principal if credential else None, source_ip=source_ip,
            )  # fmt: skip
            self.admit(call, credential)
            result = await handler(call)
            response: HttpResponse = wire.serialize_output(self.model, op, result)
            response.headers.extend(call.response_headers)
            return response
        except AwsError as e:
            return self.error(wire, e)
        except (StoreError, OSError) as e:
            message = storage_message(e)
            if message is None:
                log.exception("unhandled error in %s", operation)
            else:
                log.error("%s failed: %s", operation, message)
            error = AwsError(self.internal_code, message or "Internal error in Shoal", 500)
            return self.error(wire, error)
        except Exception:
            log.exception("unhandled error in %s", operation)
            error = AwsError(self.internal_code, "Internal error in Shoal", 500)
            return self.error(wire, error)

    def _parse(self, wire: ModuleType, op: Any, body: bytes) -> dict[str, Any]:
        try:
            params: dict[str, Any] = wire.parse_input(self.model, op, body)
        except AwsError as e:
            if e.code == "ValidationException" and self.validation_code:
                raise AwsError(self.validation_code, e.message, 400) from None
            raise
        return params

    def error(self, wire: ModuleType, error: AwsError) -> HttpResponse:
        out: HttpResponse = wire.serialize_error(self.model, error)
        return out


def unknown_operation(operation: str, service: str | None = None) -> AwsError:
    where = f" of {service}" if service else ""
    return AwsError(
        "UnknownOperationException", f"Shoal does not serve the operation {operation}{where}", 400
    )


class RpcRouter:
    """The services of one RPC protocol, found by what its requests name: the target prefix
    (``Logs_20140328``, ``TrentService``, ``GraniteServiceVersion20100801``)."""

    def __init__(self, wire: ModuleType) -> None:
        self.wire = wire
        self._by_prefix: dict[str, RpcApiService] = {}
        self._indexed: tuple[int, ...] = ()  # the registered services _by_prefix was made of

    def _lookup(self, prefix: str) -> RpcApiService | None:
        registered = tuple(map(id, _REGISTRY.values()))  # a few services: cheap to compare
        if registered != self._indexed:  # a service registered since: index it
            self._by_prefix = {
                s.target_prefix: s for s in _REGISTRY.values() if self.wire.PROTOCOL in s.protocols
            }
            self._indexed = registered
        return self._by_prefix.get(prefix)

    def _target(self, path: str, headers: Mapping[str, str]) -> tuple[str, str] | None:
        if self.wire is cbor_protocol:
            return cbor_protocol.target(path) if cbor_protocol.is_cbor(headers) else None
        return json_protocol.target(headers)

    def signing_name_for(self, path: str, headers: Mapping[str, str]) -> str | None:
        """The service a request must be signed for: the registered service it names, None
        for one nobody serves (it is answered as unknown, whoever it signed for)."""
        found = self._target(path, headers)
        service = self._lookup(found[0]) if found else None
        return service.signing_name if service else None

    async def dispatch(
        self, shoal: Shoal, method: str, path: str, query: Mapping[str, list[str]],
        headers: Mapping[str, str], body: bytes, base_url: str, request_id: str,
        credential: Credential | None = None, source_ip: str = "",
    ) -> HttpResponse | None:  # fmt: skip
        """Answer a request of this protocol, or None when the request is not one."""
        found = self._target(path, headers)
        if found is None:
            return None
        prefix, operation = found
        service = self._lookup(prefix)
        if service is None or method != "POST":
            out: HttpResponse = self.wire.unserved_error(
                unknown_operation(operation, prefix), headers
            )
            return out
        return await service.answer(
            self.wire, operation, shoal, headers, body, base_url, request_id, credential,
            source_ip,
        )  # fmt: skip

    def auth_error(self, failure: AuthFailure, signed_for: str | None, request_id: str
                   ) -> HttpResponse:  # fmt: skip
        """An authentication failure in this protocol's shape: the codes json services answer
        with, or the ``query`` protocol's (with ``x-amzn-query-error``) when ``signed_for``
        (:meth:`signing_name_for` the request: the service it names) is a registered service
        whose model is ``awsQueryCompatible``."""
        service = next((s for s in _REGISTRY.values() if s.signing_name == signed_for), None)
        if service is not None and self.wire.PROTOCOL in service.protocols:
            kind = "query" if service.query_compatible else "json"
            return service.error(self.wire, failures.as_error(failure, kind))
        return self._error(failures.as_error(failure, "json"))

    def refused(self, reason: str, request_id: str) -> HttpResponse:
        """A forged browser request (:mod:`shoal.api.admission`), in this protocol's shape."""
        return self._error(AwsError("AccessDeniedException", reason, 403))

    def too_large(self) -> HttpResponse:
        """The answer to a body over :data:`shoal.api.asgi.MAX_BODY`."""
        return self._error(
            AwsError("RequestEntityTooLargeException", "Request entity too large", 413)
        )

    def _error(self, error: AwsError) -> HttpResponse:
        """``error`` in this protocol's shape, naming no service's model."""
        out: HttpResponse = self.wire.serialize_error(None, error)
        return out


json_router = RpcRouter(json_protocol)
cbor_router = RpcRouter(cbor_protocol)
