"""Routing of form-encoded ``Action=`` requests (``POST /``) to the service that signed for them.

EC2 (``ec2`` protocol), IAM and STS (``query`` protocol) all answer ``POST /`` with
``Action=…&Version=…``. What tells them apart is the service name in the SigV4 credential scope
(``Credential=AKID/20260101/us-east-1/ec2/aws4_request``, in the ``Authorization`` header or a
presigned ``X-Amz-Credential``); an unsigned request (which is refused) is answered in the
shape of the service its ``Version`` names. The scope is
parsed, not verified: checking signatures is the identity layer's.

:class:`FormApiService` is one such service's registry of handlers (like
:class:`shoal.api.dispatch.ApiService` for rest-json); :data:`query_router` answers for all of
them with the same ``dispatch`` signature, so ``shoal.api.asgi`` routes ``/`` to it as it
routes a path prefix to a rest-json service. The request id comes from ``shoal.api.asgi`` too:
the XML body names it, and asgi sends it as ``x-amzn-RequestId``. An unknown service or action
answers ``InvalidAction`` in the protocol's own error shape, never a JSON 404 a client cannot
parse.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from functools import cached_property
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from shoal.api import ec2_protocol, query_protocol
from shoal.api.codec import HttpResponse
from shoal.api.dispatch import Call, Registry
from shoal.api.scope import INVALID_REGION, credential_scope, request_region
from shoal.errors import AwsError
from shoal.identity import failures
from shoal.identity.credentials import Credential
from shoal.identity.sigv4 import AuthFailure

if TYPE_CHECKING:
    from shoal.core import Shoal

log = logging.getLogger("shoal.api")

FORM = "application/x-www-form-urlencoded"


FormCall = Call  # EC2's state is per region: Call.region, from the credential scope
FormHandler = Callable[[Call], Awaitable[Mapping[str, Any] | None]]
# The wire module of each protocol, by the model's metadata.protocol; each has the same
# parse_input / serialize_output / serialize_error functions.
_PROTOCOLS: dict[str, ModuleType] = {"ec2": ec2_protocol, "query": query_protocol}


class FormApiService(Registry[FormHandler]):
    """The handlers of one ``Action=`` service; its model is loaded on first use (EC2's is
    large and most servers never see an EC2 call)."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.handlers: dict[str, FormHandler] = {}

    @cached_property
    def wire(self) -> ModuleType:
        """The model's protocol; ``query`` for a model that lists it beside its own
        (CloudWatch's is smithy-rpc-v2-cbor, and it still answers ``Action=``)."""
        meta = self.model.metadata
        found = _PROTOCOLS.get(meta["protocol"])
        return found if found is not None else _PROTOCOLS["query"]


    async def answer(
        self, shoal: Shoal, form: dict[str, str], headers: Mapping[str, str], base_url: str,
        region: str, request_id: str, credential: Credential | None = None, source_ip: str = "",
    ) -> HttpResponse:  # fmt: skip
        action = form.get("Action", "")
        op = self.model.operations.get(action)
        try:
            if op is None:
                raise AwsError(
                    "InvalidAction", f"The action {action} is not valid for this web service."
                )
            handler = self.handlers.get(action)
            if handler is None:
                raise AwsError("UnsupportedOperation", f"Shoal does not implement {action}", 501)
            params = self.wire.parse_input(self.model, op.input, form)
            dry_run = params.pop("DryRun", False)
            call = FormCall(
                action, params, shoal, headers, base_url, request_id, region=region,
                secure=base_url.startswith("https:"),
                principal=credential.principal if credential else None, source_ip=source_ip,
            )  # fmt: skip
            self.admit(call, credential)
            if dry_run:  # authorized: EC2's answer to a dry run that would have succeeded
                raise AwsError(
                    "DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412
                )
            result = await handler(call)
            out: HttpResponse = self.wire.serialize_output(
                self.model, action, op.output, result, request_id
            )
            return out
        except AwsError as e:
            return self.error(e, request_id)
        except Exception:
            log.exception("unhandled error in %s", action)
            error = AwsError("InternalError", "An internal error has occurred", status=500)
            return self.error(error, request_id)

    def error(self, error: AwsError, request_id: str) -> HttpResponse:
        out: HttpResponse = self.wire.serialize_error(error, request_id, self.model)
        return out


# One registry per service; API modules register into them at import.
ec2_api = FormApiService("ec2")
iam_api = FormApiService("iam")
sts_api = FormApiService("sts")
cloudwatch_form_api = FormApiService("cloudwatch")  # also json and cbor (shoal.api.cloudwatch)
# API version -> the service's signing name, for requests that carry no credential scope.
_VERSIONS = {"2016-11-15": "ec2", "2010-05-08": "iam", "2011-06-15": "sts",
             "2010-08-01": "monitoring"}  # fmt: skip
# Signing name (the credential scope's service) -> the service.
_SERVICES = {"ec2": ec2_api, "iam": iam_api, "sts": sts_api, "monitoring": cloudwatch_form_api}


class QueryRouter:
    async def dispatch(
        self, shoal: Shoal, method: str, path: str, query: Mapping[str, list[str]],
        headers: Mapping[str, str], body: bytes, base_url: str, request_id: str,
        credential: Credential | None = None, source_ip: str = "",
    ) -> HttpResponse | None:  # fmt: skip
        """Answer an ``Action=`` request, or None when the request is not one."""
        if path != "/" or method not in ("GET", "POST"):
            return None
        form = {k: v[0] for k, v in query.items()}
        if method == "POST" and headers.get("content-type", "").startswith(FORM):
            form.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        if "Action" not in form:
            return None
        scope = credential_scope(headers, form)
        name = scope.service if scope else _VERSIONS.get(form.get("Version", ""), "")
        service = _SERVICES.get(name)
        if service is None:
            return _unknown_service(name, form["Action"], request_id)
        region = request_region(scope, shoal.settings.region)
        if region is None:
            error = AwsError("AuthFailure", INVALID_REGION, 401)
            return service.error(error, request_id)
        return await service.answer(
            shoal, form, headers, base_url, region, request_id, credential, source_ip
        )

    def named(self, query: Mapping[str, list[str]], headers: Mapping[str, str],
              body: bytes) -> str | None:  # fmt: skip
        """The service an unsigned ``Action=`` request is for, by its ``Version`` (so that its
        refusal is in that service's shape), or None."""
        form = {k: v[0] for k, v in query.items()}
        if headers.get("content-type", "").startswith(FORM):
            form.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        return _VERSIONS.get(form.get("Version", ""))

    def auth_error(
        self, failure: AuthFailure, signed_for: str | None, request_id: str
    ) -> HttpResponse:
        """An authentication failure in the shape of the service the request signed for (the
        ``query`` protocol's when it names none)."""
        service = _SERVICES.get(signed_for or "", sts_api)
        protocol = "ec2" if service is ec2_api else "query"
        return service.error(failures.as_error(failure, protocol), request_id)

    def refused(self, reason: str, request_id: str) -> HttpResponse:
        """A forged browser request (:mod:`shoal.api.admission`) in EC2's error shape, the
        query protocol's answer a client can parse."""
        error = AwsError("UnauthorizedOperation", reason, 403)
        return ec2_protocol.serialize_error(error, request_id)


def _unknown_service(name: str, action: str, request_id: str) -> HttpResponse:
    """The ``query`` protocol's error (IAM, STS): the shape their clients parse."""
    body = (
        "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidAction</Code>"
        f"<Message>Shoal does not serve {escape(name or 'this service')}: "
        f"the action {escape(action)} is not valid.</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return HttpResponse(400, [("Content-Type", "text/xml")], body.encode())


query_router = QueryRouter()
