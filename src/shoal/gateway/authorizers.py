"""HTTP API authorizers (``JWT`` and Lambda ``REQUEST``): the model, API Gateway's rules for
them, and their registry.

Authorizers are kept apart from the :class:`~shoal.gateway.models.Api` document: one store
document per API (kind ``http_api_authorizers``, ``authorizer id -> Authorizer``), so that the
API registry's document shape is unchanged. Like the API registry, every method runs on the
event loop without awaiting (a change is atomic for requests), the store is written first (a
failed write changes nothing) and the in-memory map second. Routes name an authorizer in their
``AuthorizerId`` (kept in the route's ``extra``); a route's ``AuthorizationType`` must match the
authorizer's type (``JWT`` or ``CUSTOM`` for ``REQUEST``), and an authorizer a route uses can't
be deleted (``ConflictException``), as on API Gateway.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from shoal.errors import AwsError
from shoal.gateway import websocket_rules
from shoal.gateway.models import Api, new_id
from shoal.gateway.rules import bad_request, not_found
from shoal.gateway.targets import BadFunctionUri, parse_function_uri
from shoal.store.sqlite import Store

KIND = "http_api_authorizers"
TYPES = ("JWT", "REQUEST")
AUTHORIZATION_TYPES = ("NONE", "JWT", "AWS_IAM", "CUSTOM")
DEFAULT_JWT_SOURCE = "$request.header.Authorization"
MAX_TTL = 3600


@dataclass(frozen=True)
class Authorizer:
    authorizer_id: str
    name: str
    authorizer_type: str  # JWT | REQUEST
    identity_source: tuple[str, ...] = ()
    issuer: str | None = None  # JWT
    audience: tuple[str, ...] = ()  # JWT
    uri: str | None = None  # REQUEST: the function's (invocations) ARN
    payload_version: str | None = None  # REQUEST: "1.0" | "2.0"
    simple_responses: bool = False  # REQUEST, 2.0 only
    ttl_s: int = 0
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_doc(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Authorizer:
        doc = dict(doc)
        doc["identity_source"] = tuple(doc.get("identity_source") or ())
        doc["audience"] = tuple(doc.get("audience") or ())
        return cls(**doc)


AUTHORIZER_ARGS = (
    "Name",
    "AuthorizerType",
    "IdentitySource",
    "JwtConfiguration",
    "AuthorizerUri",
    "AuthorizerPayloadFormatVersion",
    "EnableSimpleResponses",
    "AuthorizerResultTtlInSeconds",
)


def build(authorizer_id: str, p: Mapping[str, Any], extra: Mapping[str, Any]) -> Authorizer:
    """An authorizer from the wire members ``p``, checked as API Gateway checks them."""
    kind = p.get("AuthorizerType")
    if kind not in TYPES:
        raise bad_request(f"Invalid authorizer type: {kind}. Valid values are JWT, REQUEST")
    name = p.get("Name")
    if not name:
        raise bad_request("Authorizer name must be specified")
    sources = tuple(p.get("IdentitySource") or ())
    ttl = int(p.get("AuthorizerResultTtlInSeconds") or 0)
    if not 0 <= ttl <= MAX_TTL:
        raise bad_request("AuthorizerResultTtlInSeconds must be between 0 and 3600")
    for source in sources:
        # route.request.*: a WebSocket API's form of $request.* (route_auth.identity_values)
        if not source.startswith(("$request.", "$context.", "$stageVariables.", "route.request.")):
            raise bad_request(f"Invalid identity source: {source}")
    if kind == "JWT":
        jwt = p.get("JwtConfiguration") or {}
        if not jwt.get("Issuer"):
            raise bad_request("Issuer must be specified for a JWT authorizer")
        if not sources:
            sources = (DEFAULT_JWT_SOURCE,)
        if len(sources) != 1:
            raise bad_request("A JWT authorizer takes exactly one identity source")
        return Authorizer(
            authorizer_id,
            name,
            kind,
            sources,
            jwt["Issuer"],
            tuple(jwt.get("Audience") or ()),
            extra=dict(extra),
        )
    uri = p.get("AuthorizerUri")
    if not uri:
        raise bad_request("AuthorizerUri must be specified for a REQUEST authorizer")
    try:
        parse_function_uri(uri)
    except BadFunctionUri:
        raise bad_request(f"Invalid Authorizer URI: {uri}") from None
    version = p.get("AuthorizerPayloadFormatVersion")
    if version not in ("1.0", "2.0"):
        raise bad_request(
            "AuthorizerPayloadFormatVersion must be 1.0 or 2.0 for a REQUEST authorizer"
        )
    simple = bool(p.get("EnableSimpleResponses", False))
    if simple and version != "2.0":
        raise bad_request("Simple responses are supported only for payload format version 2.0")
    if ttl and not sources:
        raise bad_request("Identity sources are required when authorizer caching is enabled")
    return Authorizer(
        authorizer_id,
        name,
        kind,
        sources,
        uri=uri,
        payload_version=version,
        simple_responses=simple,
        ttl_s=ttl,
        extra=dict(extra),
    )


def merged(old: Authorizer, p: Mapping[str, Any]) -> dict[str, Any]:
    """UpdateAuthorizer's members over the authorizer's current ones."""
    current: dict[str, Any] = {
        "Name": old.name,
        "AuthorizerType": old.authorizer_type,
        "IdentitySource": list(old.identity_source),
        "AuthorizerResultTtlInSeconds": old.ttl_s,
    }
    if old.authorizer_type == "JWT":
        current["JwtConfiguration"] = {"Issuer": old.issuer, "Audience": list(old.audience)}
    else:
        current.update(
            AuthorizerUri=old.uri,
            AuthorizerPayloadFormatVersion=old.payload_version,
            EnableSimpleResponses=old.simple_responses,
        )
    return {**current, **{k: v for k, v in p.items() if k in AUTHORIZER_ARGS}}


def check_route(api: Api, authorizers: Mapping[str, Authorizer], extra: Mapping[str, Any]) -> None:
    """A route's AuthorizationType, AuthorizerId and AuthorizationScopes, as API Gateway checks
    them for an HTTP API."""
    kind = extra.get("AuthorizationType", "NONE")
    if kind not in AUTHORIZATION_TYPES:
        raise bad_request(f"Invalid authorization type: {kind}")
    authorizer_id = extra.get("AuthorizerId")
    if kind in ("JWT", "CUSTOM"):
        if not authorizer_id:
            raise bad_request(f"AuthorizerId is required for authorization type {kind}")
        authorizer = authorizers.get(authorizer_id)
        if authorizer is None:
            raise bad_request(f"Invalid authorizer ID specified: {authorizer_id}")
        want = "JWT" if kind == "JWT" else "REQUEST"
        if authorizer.authorizer_type != want:
            raise bad_request(
                f"Authorization type {kind} does not match the type of authorizer "
                f"{authorizer_id} ({authorizer.authorizer_type})"
            )
    elif authorizer_id:
        raise bad_request(f"AuthorizerId may not be set for authorization type {kind}")
    if extra.get("AuthorizationScopes") and kind != "JWT":
        raise bad_request("Authorization scopes are supported only for JWT authorizers")


class AuthorizerRegistry:
    """``api id -> authorizer id -> Authorizer``, written through to the store."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._by_api: dict[str, dict[str, Authorizer]] = {}

    def load(self) -> None:
        for api_id, doc in self._store.load(KIND).items():
            self._by_api[api_id] = {k: Authorizer.from_doc(v) for k, v in doc.items()}

    def of(self, api_id: str) -> Mapping[str, Authorizer]:
        return self._by_api.get(api_id, {})

    def _put(self, api_id: str, authorizers: dict[str, Authorizer]) -> None:
        self.persist(api_id, authorizers)
        self.publish(api_id, authorizers)

    def persist(self, api_id: str, authorizers: Mapping[str, Authorizer]) -> None:
        """Write the API's authorizers (all of them) to the store only; :meth:`publish` after."""
        if authorizers:
            self._store.put(KIND, api_id, {k: a.to_doc() for k, a in authorizers.items()})
        else:
            self._store.delete(KIND, api_id)

    def publish(self, api_id: str, authorizers: Mapping[str, Authorizer]) -> None:
        self._by_api[api_id] = dict(authorizers)

    def get(self, api_id: str, authorizer_id: str) -> Authorizer:
        found = self.of(api_id).get(authorizer_id)
        if found is None:
            raise not_found("Authorizer", authorizer_id)
        return found

    def create(self, api: Api, p: Mapping[str, Any], extra: Mapping[str, Any]) -> Authorizer:
        current = self.of(api.api_id)
        authorizer_id = new_id(6)
        while authorizer_id in current:
            authorizer_id = new_id(6)
        if api.protocol_type == "WEBSOCKET":
            p = websocket_rules.authorizer_members(p, creating=True)
        authorizer = build(authorizer_id, p, extra)
        self._put(api.api_id, {**current, authorizer_id: authorizer})
        return authorizer

    def update(
        self, api: Api, authorizer_id: str, p: Mapping[str, Any], extra: Mapping[str, Any]
    ) -> Authorizer:
        old = self.get(api.api_id, authorizer_id)
        if api.protocol_type == "WEBSOCKET":
            p = websocket_rules.authorizer_members(p, creating=False)
        new = build(authorizer_id, merged(old, p), {**old.extra, **extra})
        if new.authorizer_type != old.authorizer_type and _users(api, authorizer_id):
            raise AwsError(
                "ConflictException",
                f"Authorizer {authorizer_id} is in use by routes; its type can't change",
            )
        self._put(api.api_id, {**self.of(api.api_id), authorizer_id: new})
        return new

    def delete(self, api: Api, authorizer_id: str) -> None:
        self.get(api.api_id, authorizer_id)
        users = _users(api, authorizer_id)
        if users:
            raise AwsError(
                "ConflictException",
                f"Cannot delete authorizer '{authorizer_id}', is referenced in route: {users[0]}",
            )
        rest = {k: v for k, v in self.of(api.api_id).items() if k != authorizer_id}
        self._put(api.api_id, rest)

    def forget(self, api_id: str) -> None:
        """The API is gone: its authorizers go with it."""
        if api_id in self._by_api:
            self._put(api_id, {})
            del self._by_api[api_id]


def _users(api: Api, authorizer_id: str) -> list[str]:
    return [
        r.route_key for r in api.routes.values() if r.extra.get("AuthorizerId") == authorizer_id
    ]
