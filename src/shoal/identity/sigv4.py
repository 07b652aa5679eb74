"""Verifying AWS Signature Version 4: the ``Authorization`` header and presigned query strings.

The server recomputes what the client signed (the IAM User Guide's "Create a signed AWS API
request") and compares it with the signature in constant time:

- the canonical request: the method; the path as sent, normalised and encoded once more (every
  service but S3 double-encodes); the query's pairs decoded, re-encoded with ``-_.~`` kept, and
  sorted (a presigned URL's ``X-Amz-Signature`` left out); each header of ``SignedHeaders``,
  values trimmed; and the payload hash: ``X-Amz-Content-SHA256`` when sent (checked against the
  body unless it is ``UNSIGNED-PAYLOAD``, which is allowed over TLS and for presigned URLs, as
  AWS allows it), else the body's SHA-256 (a presigned URL's too: only S3 presigns unsigned);
- the string to sign over it, and the signing key derived from the secret, the date, the
  region and the service, cached per (secret, date, region, service), so a warm client costs
  one HMAC per request.

Why not botocore's ``SigV4Auth``: it is the reference (the tests sign with it and with the real
clients), but it canonicalises an ``AWSRequest`` it also chooses the headers of, while a
verifier must use exactly the client's ``SignedHeaders``; building a request object per call
would also cost more than the whole check here. botocore's own path normaliser is used.

A request is on time within 5 minutes of the server's clock (a presigned one until its
``X-Amz-Expires``). The access key id is looked up through the :class:`CredentialSource` s
(root, IAM users' keys, STS sessions); temporary credentials need their session token, and an
expired one is refused as such. Failures are :class:`AuthFailure` with a ``kind`` each protocol
words as its service does (:mod:`shoal.identity.failures`).
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from urllib.parse import quote, unquote

from botocore.utils import normalize_url_path

from shoal.identity.credentials import Credential, CredentialSource

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED = "UNSIGNED-PAYLOAD"
SKEW_S = 300
_EMPTY = hashlib.sha256(b"").hexdigest()
_STAMP = "%Y%m%dT%H%M%SZ"
_STAMP_FORM = re.compile(r"\d{8}T\d{6}Z", re.ASCII)


class AuthFailure(Exception):
    """Why a request is not authenticated. ``kind`` is one of ``missing`` (no credentials),
    ``incomplete`` (a malformed Authorization), ``unknown`` (an access key id no one has),
    ``signature`` (a wrong signature or payload hash), ``expired`` (the request's time is
    out of bounds), ``token_expired`` and ``token_invalid``; ``message`` is AWS's wording."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check "
    "your AWS Secret Access Key and signing method. Consult the service documentation for "
    "details."
)
INVALID_TOKEN = "The security token included in the request is invalid."


@dataclass(frozen=True)
class SignedRequest:
    method: str
    path: str  # as sent on the wire, still percent-encoded
    query: str  # the raw query string
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    secure: bool


@dataclass(frozen=True)
class _Signature:
    access_key: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    timestamp: str
    token: str | None
    presigned: bool
    expires_s: int


class Verifier:
    def __init__(self, sources: Iterable[CredentialSource]) -> None:
        self.sources = list(sources)

    def verify(self, request: SignedRequest, now: float | None = None) -> tuple[Credential, str]:
        """The credential that signed ``request`` and the service it signed for, or
        :class:`AuthFailure`."""
        now = time.time() if now is None else now
        pairs = _pairs(request.query)
        sig = _parse(request.headers, pairs)
        _check_time(sig, now)
        credential = self._credential(sig, now)
        payload = _payload(request, sig)
        canonical = "\n".join(
            (
                request.method,
                _canonical_path(request.path or "/"),
                _canonical_query(pairs, sig.presigned),
                "".join(
                    f"{h}:{' '.join(request.headers.get(h, '').split())}\n"
                    for h in sig.signed_headers
                ),
                ";".join(sig.signed_headers),
                payload,
            )
        )
        scope = f"{sig.date}/{sig.region}/{sig.service}/aws4_request"
        to_sign = "\n".join(
            (ALGORITHM, sig.timestamp, scope, hashlib.sha256(canonical.encode()).hexdigest())
        )
        key = signing_key(credential.secret_access_key, sig.date, sig.region, sig.service)
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, sig.signature):
            raise AuthFailure("signature", SIGNATURE_MISMATCH)
        return credential, sig.service

    def _credential(self, sig: _Signature, now: float) -> Credential:
        for source in self.sources:
            found = source.credential(sig.access_key, sig.token)
            if found is not None:
                break
        else:
            raise AuthFailure("token_invalid" if sig.token else "unknown", INVALID_TOKEN)
        if not found.active:
            raise AuthFailure("unknown", INVALID_TOKEN)
        if found.session_token is not None:
            if sig.token is None or not hmac.compare_digest(found.session_token, sig.token):
                raise AuthFailure("token_invalid", INVALID_TOKEN)
            if found.expires is not None and found.expires <= now:
                raise AuthFailure(
                    "token_expired", "The security token included in the request is expired"
                )
        elif sig.token is not None:
            raise AuthFailure("token_invalid", INVALID_TOKEN)
        return found


@lru_cache(maxsize=4096)
def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


@lru_cache(maxsize=1024)
def _canonical_path(path: str) -> str:
    """The canonical URI, botocore's way; cached, since a client calls a few paths often."""
    return quote(normalize_url_path(path), safe="/~")


def _pairs(query: str) -> list[tuple[str, str]]:
    pairs = []
    for item in query.split("&") if query else ():
        if item:
            key, _, value = item.partition("=")
            pairs.append((unquote(key), unquote(value)))
    return pairs


def _canonical_query(pairs: list[tuple[str, str]], presigned: bool) -> str:
    encoded = sorted(
        (quote(k, safe="-_.~"), quote(v, safe="-_.~"))
        for k, v in pairs
        if not (presigned and k == "X-Amz-Signature")
    )
    return "&".join(f"{k}={v}" for k, v in encoded)


def _parse(headers: Mapping[str, str], pairs: list[tuple[str, str]]) -> _Signature:
    auth = headers.get("authorization")
    if auth is not None:
        return _from_header(auth, headers)
    form = dict(pairs)
    if "X-Amz-Signature" in form or "X-Amz-Credential" in form:
        return _from_query(form)
    raise AuthFailure("missing", "Missing Authentication Token")


def _from_header(auth: str, headers: Mapping[str, str]) -> _Signature:
    algorithm, _, rest = auth.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise AuthFailure("incomplete", f"Unsupported Authorization Type: {algorithm[:32]}")
    fields = {}
    for part in rest.split(","):
        name, _, value = part.strip().partition("=")
        fields[name] = value
    missing = [k for k in ("Credential", "SignedHeaders", "Signature") if not fields.get(k)]
    if missing:
        raise AuthFailure(
            "incomplete",
            f"Authorization header requires '{missing[0]}' parameter. Authorization={auth[:200]}",
        )
    timestamp = headers.get("x-amz-date") or ""
    return _signature(
        fields["Credential"], fields["SignedHeaders"], fields["Signature"], timestamp,
        headers.get("x-amz-security-token"), presigned=False, expires_s=SKEW_S,
    )  # fmt: skip


def _from_query(form: Mapping[str, str]) -> _Signature:
    if form.get("X-Amz-Algorithm") != ALGORITHM:
        raise AuthFailure("incomplete", "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"")
    for name in ("X-Amz-Credential", "X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Date"):
        if not form.get(name):
            raise AuthFailure("incomplete", f"AWS query-string parameters must include '{name}'.")
    try:
        expires = int(form.get("X-Amz-Expires", "900"))
    except ValueError:
        raise AuthFailure("incomplete", "X-Amz-Expires should be a number") from None
    return _signature(
        form["X-Amz-Credential"], form["X-Amz-SignedHeaders"], form["X-Amz-Signature"],
        form["X-Amz-Date"], form.get("X-Amz-Security-Token"), presigned=True,
        expires_s=max(0, min(expires, 604800)),
    )  # fmt: skip


def _signature(credential: str, signed: str, signature: str, timestamp: str,
               token: str | None, *, presigned: bool, expires_s: int) -> _Signature:  # fmt: skip
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not all(parts):
        raise AuthFailure(
            "incomplete",
            f"Credential should be scoped to a valid region, not '{credential[:200]}'. ",
        )
    headers = tuple(signed.lower().split(";"))
    if "host" not in headers:
        raise AuthFailure("signature", "'Host' must be a 'SignedHeader' in the AWS Authorization.")
    if not timestamp:
        raise AuthFailure("incomplete", "Authorization header requires existence of either a "
                          "'X-Amz-Date' or a 'Date' header.")  # fmt: skip
    if timestamp[:8] != parts[1]:
        raise AuthFailure(
            "signature", f"Date in Credential scope does not match YYYYMMDD from ISO-8601 "
            f"version of date from HTTP: '{parts[1]}' != '{timestamp[:8]}', from '{timestamp}'."
        )  # fmt: skip
    return _Signature(parts[0], parts[1], parts[2], parts[3], headers, signature, timestamp,
                      token, presigned, expires_s)  # fmt: skip


@lru_cache(maxsize=64)  # requests signed in the same second share their X-Amz-Date
def _epoch(timestamp: str) -> float:
    """``YYYYMMDDTHHMMSSZ`` as seconds since the epoch (parsed by hand: ``strptime`` was a third
    of a verification); ValueError if it is not one."""
    if _STAMP_FORM.fullmatch(timestamp) is None:
        raise ValueError(timestamp)
    fields = (timestamp[0:4], timestamp[4:6], timestamp[6:8], timestamp[9:11], timestamp[11:13],
              timestamp[13:15])  # fmt: skip
    year, month, day, hour, minute, second = (int(f) for f in fields)
    datetime(year, month, day, hour, minute, second)  # range checks: month 13 is no date
    return float(calendar.timegm((year, month, day, hour, minute, second)))


def _check_time(sig: _Signature, now: float) -> None:
    try:
        signed = _epoch(sig.timestamp)
    except ValueError:
        raise AuthFailure("incomplete", f"Invalid date: {sig.timestamp[:32]}") from None

    def stamp(t: float) -> str:
        return datetime.fromtimestamp(t, UTC).strftime(_STAMP)

    if sig.presigned:
        if now > signed + sig.expires_s:
            raise AuthFailure("expired", "Signature expired: "
                              f"{sig.timestamp} is now earlier than {stamp(now - sig.expires_s)} "
                              f"({stamp(now)} - {sig.expires_s // 60} min.)")  # fmt: skip
        return
    if signed < now - SKEW_S:
        raise AuthFailure("expired", f"Signature expired: {sig.timestamp} is now earlier than "
                          f"{stamp(now - SKEW_S)} ({stamp(now)} - 5 min.)")  # fmt: skip
    if signed > now + SKEW_S:
        raise AuthFailure("expired", f"Signature not yet current: {sig.timestamp} is still later "
                          f"than {stamp(now + SKEW_S)} ({stamp(now)} + 5 min.)")  # fmt: skip


def _payload(request: SignedRequest, sig: _Signature) -> str:
    sent = request.headers.get("x-amz-content-sha256")
    if sent is None:
        return hashlib.sha256(request.body).hexdigest() if request.body else _EMPTY
    if sent == UNSIGNED:
        if not (request.secure or sig.presigned):
            raise AuthFailure("signature", "UNSIGNED-PAYLOAD is only allowed over TLS.")
        return sent
    if not hmac.compare_digest(sent, hashlib.sha256(request.body).hexdigest()):
        raise AuthFailure(
            "signature", "The provided 'x-amz-content-sha256' header does not match what was "
            "computed."
        )  # fmt: skip
    return sent
