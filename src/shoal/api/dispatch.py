"""Operation registries: one :class:`ApiService` per AWS service model.

Handlers are registered by operation name and receive a :class:`Call` with the decoded,
validated input (member names as in the model); they return the output members as a mapping, or
``None`` for an empty output. They raise :class:`shoal.errors.AwsError` for AWS errors. The
codec does every wire concern, so a handler holds no HTTP.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from shoal.api import codec
from shoal.api.model import ServiceModel, load_model
from shoal.api.scope import INVALID_REGION, credential_scope, request_region
from shoal.errors import AwsError
from shoal.identity import failures
from shoal.identity.authorize import Target, TargetFor, authorize_call
from shoal.identity.credentials import Credential
from shoal.identity.sigv4 import AuthFailure
from shoal.policy.engine import Principal
from shoal.store.sqlite import DiskFull, StoreError

if TYPE_CHECKING:
    from shoal.core import Shoal

log = logging.getLogger("shoal.api")


@dataclass
class Call:
    operation: str
    params: dict[str, Any]
    shoal: Shoal
    headers: Mapping[str, str]
    base_url: str  # how the client reached us, e.g. "http://127.0.0.1:9000"
    # The id the answer names in x-amzn-RequestId (made by shoal.api.asgi); an Invoke's
    # invocation runs under it, as on Lambda.
    request_id: str
    # The region of the request's credential scope (shoal.api.scope), or the server's default
    # for an unsigned request: the region whose state the call reads and changes.
    region: str
    # Wire headers the model does not describe, for the handler to set (Invoke's Content-Type:
    # its Payload is a blob whose media type Lambda names, not the model).
    response_headers: tuple[tuple[str, str], ...] = ()
    # Who signed the request (shoal.identity); None only for calls made inside Shoal.
    principal: Principal | None = None
    # Whether the request came over TLS (aws:SecureTransport).
    secure: bool = False
    # The caller's address (aws:SourceIp): the ASGI scope's client, filled by shoal.api.asgi.
    source_ip: str = ""


Handler = Callable[[Call], Awaitable[Mapping[str, Any] | None]]


HandlerT = TypeVar("HandlerT")


class Registry(Generic[HandlerT]):
    """What every protocol's service registry has (rest-json :class:`ApiService`, the
    ``Action=`` services' ``FormApiService``, the json/cbor ``RpcApiService``): its handlers by
    operation, the one hook every call goes through before its handler, and the hook naming
    what a signed call is authorized on."""

    service: str  # botocore's name of the service, whose model this registry serves
    handlers: dict[str, HandlerT]
    # Called with every decoded call before its handler (see prepares()).
    _prepare: Callable[[Call], None] | None = None
    # What a signed call is authorized on, and its resource policies (see authorizes_on()).
    _target: TargetFor | None = None
    # How the service words an error before it goes on the wire (see words_errors()).
    _reword: Callable[[AwsError], AwsError] | None = None

    @cached_property
    def model(self) -> ServiceModel:
        return load_model(self.service)

    def handles(self, operation: str) -> Callable[[HandlerT], HandlerT]:
        if operation not in self.model.operations:
            raise KeyError(f"{self.model.name} has no operation {operation}")

        def register(fn: HandlerT) -> HandlerT:
            self.handlers[operation] = fn
            return fn

        return register

    def prepares(self, fn: Callable[[Call], None]) -> Callable[[Call], None]:
        """Register the one function every call of this service goes through before its
        handler: where the service's names are put in the request's region, and a resource of
        another region is refused as not found (shoal.api.lambda_scope, …)."""
        self._prepare = fn
        return fn

    def admit(self, call: Call, credential: Credential | None) -> None:
        """What every call goes through before its handler: the prepare hook, then, for a
        signed principal other than root, authorization (raises the service's denial)."""
        if self._prepare is not None:
            self._prepare(call)
        if credential is not None and not credential.root:
            authorize_call(call, call.shoal.iam.identity_policies, service=self.service,
                           target_for=self._target)  # fmt: skip

    def authorizes_on(self, fn: Callable[[Call], Target]) -> Callable[[Call], Target]:
        """Register the function that says, for a call a non-root principal signed, the
        resource it is authorized on when its params do not name it (an EFS mount target's
        file system) and that resource's resource-based policies (a Lambda function's policy,
        an EFS file-system policy, a role's trust policy), which IAM evaluates with the
        principal's own (shoal.identity.authorize). Runs after prepares(), so names are
        already resolved."""
        self._target = fn
        return fn

    def words_errors(self, fn: Callable[[AwsError], AwsError]) -> Callable[[AwsError], AwsError]:
        """Register how this service words every error it answers, the codec's included: API
        Gateway v2 has no ``ValidationException`` and says ``BadRequestException``."""
        self._reword = fn
        return fn

    def reworded(self, error: AwsError) -> AwsError:
        return error if self._reword is None else self._reword(error)


class ApiService(Registry[Handler]):
    def __init__(self, service: str) -> None:
        self.service = service
        self.model = load_model(service)  # at import: every server serves Lambda, EFS, APIs
        self.handlers: dict[str, Handler] = {}
        # The service's own 500 (Lambda ServiceException, EFS InternalServerError), or AWS's
        # common InternalFailure for a model that names none (API Gateway v2).
        self._internal = next(
            (
                name
                for name, shape in self.model.shapes.items()
                if shape.get("exception") and shape.get("error", {}).get("httpStatusCode") == 500
            ),
            "InternalFailure",
        )


    async def dispatch(
        self,
        shoal: Shoal,
        method: str,
        path: str,
        query: Mapping[str, list[str]],
        headers: Mapping[str, str],
        body: bytes,
        base_url: str,
        request_id: str,
        credential: Credential | None = None,
        source_ip: str = "",
    ) -> codec.HttpResponse | None:
        """Answer a request, or None when no operation of this service matches its route."""
        found = self.model.router.match(method, path, query)
        if found is None:
            return None
        op, labels = found
        handler = self.handlers.get(op.name)
        try:
            if handler is None:
                raise AwsError(
                    "UnsupportedOperation", f"Shoal does not implement {op.name}", status=501
                )
            form = {k: v[0] for k, v in query.items() if v}
            region = request_region(credential_scope(headers, form), shoal.settings.region)
            if region is None:
                raise AwsError("InvalidSignatureException", INVALID_REGION, status=403)
            params = codec.parse_input(self.model, op, labels, query, headers, body)
            call = Call(
                op.name, params, shoal, headers, base_url, request_id, region,
                secure=base_url.startswith("https:"),
                principal=credential.principal if credential else None, source_ip=source_ip,
            )  # fmt: skip
            self.admit(call, credential)
            result = await handler(call)
            response = codec.serialize_output(self.model, op, result)
            if call.response_headers:
                response.headers.extend(call.response_headers)
            return response
        except AwsError as e:
            return codec.serialize_error(self.model, self.reworded(e))
        except (StoreError, OSError) as e:
            message = storage_message(e)
            if message is None:
                log.exception("unhandled error in %s", op.name)
                message = "Internal error in Shoal"
            else:
                log.error("%s failed: %s", op.name, message)
            return codec.serialize_error(self.model, self.internal_error(message))
        except Exception:
            log.exception("unhandled error in %s", op.name)
            return codec.serialize_error(self.model, self.internal_error("Internal error in Shoal"))

    def auth_error(
        self, failure: AuthFailure, signed_for: str | None, request_id: str
    ) -> codec.HttpResponse:
        """An authentication failure in this service's shape (rest-json)."""
        return codec.serialize_error(self.model, failures.as_error(failure, "rest"))

    @property
    def signing_name(self) -> str:
        """The service a request signs for: botocore's choice, signingName else endpointPrefix
        (EFS signs as ``elasticfilesystem``)."""
        meta = self.model.metadata
        return str(meta.get("signingName") or meta.get("endpointPrefix") or self.model.name)

    def internal_error(self, message: str) -> AwsError:
        return AwsError(self._internal, message, status=500)


def storage_message(e: StoreError | OSError) -> str | None:
    """What to tell the client when saving failed (a full disk above all); None otherwise."""
    if isinstance(e, StoreError):
        return str(e)
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return str(
            DiskFull(
                f"The server's disk is full: Shoal could not save the change ({e.strerror}). "
                "Nothing was changed; free space and retry."
            )
        )
    return None


# One registry per service; API modules register into them at import.
lambda_api = ApiService("lambda")
efs_api = ApiService("efs")
apigatewayv2_api = ApiService("apigatewayv2")

