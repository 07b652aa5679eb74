"""Who signed a request: the one SigV4 verifier of the server (root, IAM users' keys, STS
sessions), the service a signature must be for, and Shoal's own endpoints' rule (signed for
``shoal`` by the account's root user).

Every API request is signed, from loopback too: there is no unauthenticated mode. A failure is
worded by the service the request names (:func:`named_service`), in its protocol's shape.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

from shoal.api.bodies import BodyTooLarge, Receive, Scope, json_response, read_body, signed_request
from shoal.api.codec import HttpResponse
from shoal.api.dispatch import ApiService
from shoal.api.query_router import QueryRouter
from shoal.api.rpc_router import RpcRouter
from shoal.api.scope import credential_scope
from shoal.identity import failures, sigv4
from shoal.identity.authorize import is_root
from shoal.identity.credentials import Credential

if TYPE_CHECKING:
    from shoal.core import Shoal

# Shoal's own endpoints are signed for this service name, by the account's root user only.
SHOAL_SIGNING_NAME = "shoal"
MAX_SHOAL_BODY = 1024 * 1024  # what /shoal/ endpoints take (they take none today)

Service = ApiService | QueryRouter | RpcRouter


def named_service(service: Service, signed: sigv4.SignedRequest,
                  query: Mapping[str, list[str]]) -> str | None:  # fmt: skip
    """The service a refused request is for, whose words its refusal takes: the json/cbor
    service it names; for ``Action=`` requests the credential scope's, else their
    ``Version``'s."""
    if isinstance(service, RpcRouter):
        return service.signing_name_for(signed.path, signed.headers)
    scoped = credential_scope(signed.headers, {k: v[0] for k, v in query.items()})
    if scoped is not None:
        return scoped.service
    if isinstance(service, QueryRouter):
        return service.named(query, signed.headers, signed.body)
    return None


class Authenticator:
    def __init__(self, shoal: Shoal) -> None:
        self.shoal = shoal
        self._verifier: sigv4.Verifier | None = None

    @property
    def verifier(self) -> sigv4.Verifier:
        """The one SigV4 verifier: the API's, and function URLs' with ``AuthType AWS_IAM``
        (:mod:`shoal.gateway.url_auth`)."""
        if self._verifier is None:
            self._verifier = sigv4.Verifier(
                [self.shoal.root.source(self.shoal.settings.account_id)]
                + ([self.shoal.iam] if hasattr(self.shoal, "iam") else [])
            )
        return self._verifier

    def credential(
        self, signed: sigv4.SignedRequest, service: ApiService | QueryRouter | RpcRouter | None
    ) -> Credential:
        """The credential that signed the request (SigV4, :mod:`shoal.identity.sigv4`), signed
        for ``service`` (a rest-json service's signing name, or that of the json/cbor service
        the request names; the query router routes by it; None: Shoal's own endpoints, signed
        for ``shoal``)."""
        credential, signed_for = self.verifier.verify(signed)
        expected: str | None = None
        if service is None:
            expected = SHOAL_SIGNING_NAME
        elif isinstance(service, ApiService):
            expected = service.signing_name
        elif isinstance(service, RpcRouter):
            expected = service.signing_name_for(signed.path, signed.headers)
        if expected is not None and signed_for != expected:
            raise failures.wrong_service(signed_for, expected)
        return credential

    async def shoal_caller(
        self, scope: Scope, receive: Receive
    ) -> tuple[Receive, HttpResponse | None]:
        """Check that a ``/shoal/`` request is signed (service ``shoal``) by the account's root
        user; the refusal (``{"message"}`` with ``x-amzn-ErrorType``), or None and a receive
        that replays the body it read."""
        try:
            body = await read_body(receive, MAX_SHOAL_BODY)
        except BodyTooLarge:
            return receive, json_response(413, {"message": "Request entity too large"})
        signed = signed_request(scope, body)
        try:
            credential = self.credential(signed, None)
        except sigv4.AuthFailure as failure:
            error = failures.as_error(failure, "rest")
            return receive, json_response(
                error.status or 403, {"message": error.message}, [("x-amzn-ErrorType", error.code)]
            )
        if not is_root(credential.principal):
            return receive, json_response(
                403,
                {"message": f"User: {credential.principal.arn} is not authorized to use "
                            "Shoal's own endpoints (only the account's root user is)"},
                [("x-amzn-ErrorType", "AccessDeniedException")],
            )  # fmt: skip
        sent = False

        async def replay() -> MutableMapping[str, Any]:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        return replay, None

