"""JWT authorizers, as API Gateway HTTP APIs run them ("Control access to HTTP APIs with JWT
authorizers" in the developer guide).

The token is the identity source's value (``$request.header.Authorization`` by default), with
an optional ``Bearer `` prefix. API Gateway checks, in order: the signature, with the key named
by the token's ``kid`` in the issuer's JWKS (``{issuer}/.well-known/openid-configuration`` ->
``jwks_uri``); ``iss`` equal to the authorizer's issuer; ``aud`` (or, only when there is no
``aud``, ``client_id``) one of its audience; ``exp`` in the future, ``nbf`` and ``iat`` not
after now; then the route's authorization scopes against the token's ``scope`` (space
separated) or ``scp`` claim. A token refused answers 401 ``{"message":"Unauthorized"}`` with a
``www-authenticate: Bearer scope="" error="invalid_token" error_description="..."`` header; a
token without a scope the route needs, 403 ``{"message":"Forbidden"}`` with
``error="insufficient_scope"``.

Keys: one :class:`JwksCache` per gateway, ``issuer -> keys by kid``. A JWKS is fetched on first
use and again when a token names a ``kid`` it does not hold (one fetch in flight per issuer,
shared by the requests waiting on it, and the same unknown kid not again for :data:`REFRESH_S`,
so a stream of bad tokens can't make Shoal hammer the issuer).
Fetching runs in a worker thread (urllib, :data:`FETCH_TIMEOUT_S`), never on the event loop,
over HTTPS (plain HTTP only to a loopback issuer: :func:`fetchable`);
concurrent requests for the same issuer share one fetch.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt

from shoal.gateway.authorizers import Authorizer
from shoal.gateway.responses import GatewayResponse

log = logging.getLogger("shoal.gateway")

FETCH_TIMEOUT_S = 5.0
REFRESH_S = 10.0
VERIFIED_S = 60.0  # a key dropped from the JWKS stops working within this
MAX_VERIFIED = 4096
_ALGORITHMS = {"RSA": ["RS256", "RS384", "RS512"], "EC": ["ES256", "ES384", "ES512"]}


def challenge(status: int, error: str, description: str, scope: str = "") -> GatewayResponse:
    message = "Unauthorized" if status == 401 else "Forbidden"
    www = f'Bearer scope="{scope}" error="{error}" error_description="{description}"'
    headers = [(b"content-type", b"application/json"), (b"www-authenticate", www.encode())]
    return GatewayResponse(status, headers, json.dumps({"message": message}).encode())


class Refused(Exception):
    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def fetchable(url: str) -> bool:
    """An issuer's documents are fetched over HTTPS, as API Gateway requires; plain HTTP only
    from the host itself (a development issuer, the tests')."""
    parts = urllib.parse.urlsplit(url)
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK)


def _fetch_json(url: str) -> Any:
    if not fetchable(url):
        raise Refused(f"{url} is neither https nor on the loopback address")
    request = urllib.request.Request(url, headers={"accept": "application/json"})
    try:
        with _OPENER.open(request, timeout=FETCH_TIMEOUT_S) as response:
            return json.loads(response.read(1024 * 1024))
    except urllib.error.HTTPError as e:
        with e:
            raise Refused(f"{url} answered {e.code}") from None


class _Redirects(urllib.request.HTTPRedirectHandler):
    """A redirect is followed only to where the first request could have gone."""

    def redirect_request(
        self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> Any:
        if not fetchable(newurl):
            raise Refused(f"a redirect to {newurl} is neither https nor on the loopback address")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_Redirects)


def _fetch_keys(issuer: str) -> dict[str, jwt.PyJWK]:
    """Blocking: the issuer's signing keys by kid (run in a thread)."""
    config = _fetch_json(issuer.rstrip("/") + "/.well-known/openid-configuration")
    jwks = _fetch_json(config["jwks_uri"])
    keys: dict[str, jwt.PyJWK] = {}
    for entry in jwks.get("keys", []):
        if entry.get("use", "sig") != "sig" or "kid" not in entry:
            continue
        try:
            keys[entry["kid"]] = jwt.PyJWK(entry)
        except jwt.PyJWTError as e:
            log.info("JWKS of %s: key %s skipped: %s", issuer, entry.get("kid"), e)
    return keys


@dataclass
class _Entry:
    keys: dict[str, jwt.PyJWK]
    missed: dict[str, float] = field(default_factory=dict)  # unknown kid -> when it was looked up
    pending: asyncio.Future[dict[str, jwt.PyJWK]] | None = None


class JwksCache:
    """``issuer -> its keys``; owned by the event loop (no lock: mutated only there). At most
    one fetch per issuer is in flight; a kid the fresh JWKS did not hold is not looked up
    again for :data:`REFRESH_S`."""

    def __init__(self) -> None:
        self._issuers: dict[str, _Entry] = {}
        # (issuer, audience, token) -> (monotonic expiry, its claims): tokens verified lately.
        self.verified: dict[tuple[str | None, tuple[str, ...], str], tuple[float, Any]] = {}

    async def key(self, issuer: str, kid: str) -> jwt.PyJWK | None:
        entry = self._issuers.setdefault(issuer, _Entry({}))
        if kid in entry.keys:
            return entry.keys[kid]
        missed = entry.missed.get(kid)
        if missed is not None and time.monotonic() - missed < REFRESH_S:
            return None
        keys = await self._refresh(entry, issuer)
        if kid not in keys:
            if len(entry.missed) > 1024:
                entry.missed.clear()
            entry.missed[kid] = time.monotonic()
        return keys.get(kid)

    async def _refresh(self, entry: _Entry, issuer: str) -> dict[str, jwt.PyJWK]:
        if entry.pending is None:
            entry.pending = asyncio.ensure_future(asyncio.to_thread(_fetch_keys, issuer))
            try:
                entry.keys = await entry.pending
                entry.missed.clear()
            except Exception as e:  # a fetch failure refuses the token, as on API Gateway
                log.warning("JWKS of %s could not be fetched: %r", issuer, e)
            finally:
                entry.pending = None
            return entry.keys
        try:
            return await asyncio.shield(entry.pending)
        except Exception:
            return entry.keys


def token_of(value: str | None) -> str | None:
    if not value:
        return None
    if value[:7].lower() == "bearer ":
        value = value[7:]
    return value.strip() or None


async def verify(cache: JwksCache, authorizer: Authorizer, token: str) -> dict[str, Any]:
    """The token's claims, or :class:`Refused` with API Gateway's error description.

    A token verified once is remembered for :data:`VERIFIED_S` (bounded, per issuer and
    audience): a client sends the same token many times, and its signature can't change; its
    ``exp`` and ``nbf`` are checked again on every use."""
    key = (authorizer.issuer, authorizer.audience, token)
    found = cache.verified.get(key)
    now = time.time()
    if found is not None and found[0] > time.monotonic():
        claims: dict[str, Any] = found[1]
        if not claims["exp"] > now:
            raise Refused("the token has expired")
        if isinstance(claims.get("nbf"), (int, float)) and claims["nbf"] > now:
            raise Refused("the token is not valid yet")
        return claims
    claims = await _verify(cache, authorizer, token)
    if isinstance(claims.get("exp"), (int, float)):
        if len(cache.verified) >= MAX_VERIFIED:
            cache.verified.clear()
        cache.verified[key] = (time.monotonic() + VERIFIED_S, claims)
    return claims


async def _verify(cache: JwksCache, authorizer: Authorizer, token: str) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise Refused("the token is malformed") from None
    kid = header.get("kid")
    if not isinstance(kid, str) or authorizer.issuer is None:
        raise Refused("the token does not have a valid signature")
    key = await cache.key(authorizer.issuer, kid)
    if key is None:
        raise Refused("the token does not have a valid signature")
    algorithms = _ALGORITHMS.get(key.key_type or "", [])
    if header.get("alg") not in algorithms:
        raise Refused("the token does not have a valid signature")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key.key,
            algorithms=algorithms,
            leeway=0,
            options={"verify_aud": False, "verify_iss": False, "require": ["exp"]},
        )
    except jwt.ExpiredSignatureError:
        raise Refused("the token has expired") from None
    except jwt.ImmatureSignatureError:
        raise Refused("the token is not valid yet") from None
    except jwt.MissingRequiredClaimError:
        raise Refused("the token does not have an expiry") from None
    except jwt.PyJWTError:
        raise Refused("the token does not have a valid signature") from None
    if claims.get("iss") != authorizer.issuer:
        raise Refused("the token does not have a valid issuer")
    aud = claims.get("aud") if "aud" in claims else claims.get("client_id")
    auds = aud if isinstance(aud, list) else [aud]
    if not any(a in authorizer.audience for a in auds if isinstance(a, str)):
        raise Refused("the token does not have a valid audience")
    return claims


def token_scopes(claims: Mapping[str, Any]) -> list[str]:
    scope = claims.get("scope", claims.get("scp"))
    if isinstance(scope, str):
        return scope.split()
    if isinstance(scope, list):
        return [s for s in scope if isinstance(s, str)]
    return []


def event_claims(claims: Mapping[str, Any]) -> dict[str, str]:
    """Claims as API Gateway passes them to the integration: every value a string, a list
    as ``[a b]``."""
    out = {}
    for name, value in claims.items():
        if isinstance(value, str):
            out[name] = value
        elif isinstance(value, bool):
            out[name] = "true" if value else "false"
        elif isinstance(value, list):
            out[name] = "[" + " ".join(str(v) for v in value) + "]"
        elif isinstance(value, (int, float)):
            out[name] = str(value)
        else:
            out[name] = json.dumps(value, separators=(",", ":"))
    return out


async def authorize(
    cache: JwksCache, authorizer: Authorizer, value: str | None, route_scopes: list[str]
) -> dict[str, Any] | GatewayResponse:
    """The event's ``authorizer`` member (``{"jwt": {"claims", "scopes"}}``), or the refusal."""
    token = token_of(value)
    if token is None:
        return challenge(401, "invalid_token", "no token was given")
    try:
        claims = await verify(cache, authorizer, token)
    except Refused as e:
        return challenge(401, "invalid_token", e.description)
    scopes = token_scopes(claims)
    if route_scopes and not any(s in scopes for s in route_scopes):
        return challenge(
            403,
            "insufficient_scope",
            "the token does not have the required scopes",
            " ".join(route_scopes),
        )
    return {"jwt": {"claims": event_claims(claims), "scopes": scopes or None}}
