"""Request admission: what a browser sends cross-site never reaches Shoal's control plane.

Two attacks come from a web page in a browser on the host, since Shoal's port is open on
loopback. Every API request is signed (SigV4), which a page cannot do without the keys, but
these rules stand on their own: they also keep pages away from the public HTTP triggers'
private names and from whatever signs requests for the user (a proxy, a credential helper):

- **Cross-site requests (CSRF).** A page on any site can ``fetch`` or post a form with a
  ``text/plain`` body to ``http://127.0.0.1:9000/2015-03-31/functions`` — a "simple" request,
  sent without a CORS preflight — and create and invoke functions. It cannot read the answer,
  but it need not. The browser names the page in ``Origin`` (on every POST, and on every
  ``fetch`` other than a same-origin GET), and in ``Sec-Fetch-Site``.
- **DNS rebinding.** A page on ``evil.example`` whose name then re-resolves to 127.0.0.1 is
  same-origin with Shoal as far as the browser is concerned, so it sends no foreign ``Origin``
  and reads every answer. Its requests carry ``Host: evil.example:9000``.

So the control plane (Lambda, EFS, API Gateway management, ``/shoal/…``) refuses:

1. a ``Host`` that names none of the names this server serves: the loopback names
   ``127.0.0.1``, ``localhost``, ``[::1]``, the configured ``--host``, and each
   ``--allowed-host``. The name is compared, not the port: a browser's Host is always the
   host and port of the URL it connected with, so the port says nothing about the page,
   and a name is what rebinding changes (port forwarding and proxies keep working). A request
   without Host (HTTP/1.0 tools) is admitted: browsers always send one.
2. an ``Origin`` that is present and is not Shoal's own: ``http://{name}:{port}`` for those
   names and Shoal's port (``https://`` when Shoal serves TLS itself; both for an
   ``--allowed-host``, which may be behind a TLS proxy).
   ``Origin: null`` (sandboxed frames, ``file:`` pages, some redirects) is refused.
3. ``Sec-Fetch-Site: cross-site`` or ``same-site``: the control plane serves no pages, so no
   browser request to it legitimately starts on another site, and on loopback "same site" is
   every other local port. ``same-origin`` and ``none`` (the user typed the URL) pass.

SDKs, the AWS CLI and curl send ``Host: 127.0.0.1:PORT`` (or the endpoint's name) and no
``Origin``: nothing changes for them.

HTTP APIs and function URLs are public by design: there the ``Origin`` and fetch-metadata rules
do not apply (cross-origin reads are the API's own CORS configuration). The Host rule does, with
``{apiId}.execute-api[.{region}].localhost`` and ``{urlId}.lambda-url[.{region}].localhost``
also served. A route
served on loopback may be meant to stay private to the host (a development API without an
authorizer, a function reading a file system); rebinding would let any web page read it, which
CORS alone would have refused. Clients of a gateway reach it by one of Shoal's names already,
and an operator who serves it under another name says so with ``--allowed-host``.

Refusals are answered in the shape of the protocol called: 403 with ``x-amzn-ErrorType:
AccessDeniedException`` and the error body the service uses (Lambda ``Type``/``Message``, EFS
``ErrorCode``/``Message``, API Gateway ``message``), and for the gateway API Gateway's 403
``ForbiddenException``.

Cost: one pass over the request's header list comparing names (boto3 sends about ten), and one
or two frozenset lookups. No allocation on the admitted path of a boto3 or curl request.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from shoal.api.codec import HttpResponse
from shoal.config import Settings

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
# {id}.{kind}[.{region}].localhost, as AWS's {id}.execute-api.{region}.amazonaws.com and
# {id}.lambda-url.{region}.on.aws; shoal.gateway.http routes by it.
GATEWAY_HOST = re.compile(rb"^([^.]+)\.(execute-api|lambda-url)(?:\.([a-z0-9-]+))?\.localhost$")

CROSS_ORIGIN = "cross-origin request refused"
CROSS_SITE = "cross-site request refused"
BAD_HOST = "Host header not served here"

_REFUSED_SITES = frozenset({b"cross-site", b"same-site"})


def _bracketed(name: str) -> str:
    """An IPv6 address as it appears in Host and Origin: ``[::1]``."""
    return f"[{name}]" if ":" in name and not name.startswith("[") else name


def _split(entry: str) -> tuple[str, str | None]:
    """``name[:port]`` -> (name, port or None); IPv6 addresses in brackets or bare."""
    entry = entry.strip().lower()
    if entry.startswith("["):
        name, _, rest = entry.partition("]")
        port = rest[1:] if rest.startswith(":") else ""
        return name + "]", port or None
    if entry.count(":") == 1:
        name, _, port = entry.partition(":")
        return name, port
    return _bracketed(entry), None


def name_of(host: bytes) -> bytes:
    """The name part of a Host header value, lower-cased: ``[::1]:9000`` -> ``[::1]``."""
    host = host.lower()
    if host.startswith(b"["):
        end = host.find(b"]")
        return host[: end + 1] if end > 0 else host
    return host.partition(b":")[0]


@dataclass(frozen=True, slots=True)
class Admission:
    """Which Host names and Origins this server serves (see the module docstring)."""

    names: frozenset[bytes]  # served host names, lower-case, without port
    host_values: frozenset[bytes]  # Host values as clients send them: a fast path
    origins: frozenset[bytes]

    @classmethod
    def for_settings(
        cls, settings: Settings, allowed: Sequence[str] | None = None
    ) -> Admission:
        own = list(LOOPBACK_NAMES)
        if settings.host not in ("", "0.0.0.0", "::"):
            own.append(_bracketed(settings.host.lower()))
        if allowed is None:
            allowed = settings.allowed_hosts
        return cls.build(own, allowed, settings.port, settings.scheme)

    @classmethod
    def build(
        cls, own: Iterable[str], allowed: Sequence[str], port: int, scheme: str = "http"
    ) -> Admission:
        names: set[str] = set()
        values: set[str] = set()
        origins: set[str] = set()
        for name in own:
            names.add(name)
            values.update((name, f"{name}:{port}"))
            origins.add(f"{scheme}://{name}:{port}")
            if port == (443 if scheme == "https" else 80):
                origins.add(f"{scheme}://{name}")
        for entry in allowed:
            name, given_port = _split(entry)
            names.add(name)
            values.update((name, f"{name}:{given_port or port}"))
            for scheme in ("http", "https"):
                if given_port:
                    origins.add(f"{scheme}://{name}:{given_port}")
                else:
                    origins.update((f"{scheme}://{name}", f"{scheme}://{name}:{port}"))
        return cls(
            frozenset(n.encode() for n in names),
            frozenset(v.encode() for v in values),
            frozenset(o.encode() for o in origins),
        )

    def serves(self, host: bytes, gateway: bool) -> bool:
        if host in self.host_values:
            return True
        name = name_of(host)
        if name in self.names:
            return True
        return gateway and GATEWAY_HOST.match(name) is not None

    def refusal(self, headers: Iterable[tuple[bytes, bytes]], gateway: bool) -> str | None:
        """Why this request is refused, or None to admit it. ``gateway``: an HTTP API or
        function URL request, to which only the Host rule applies."""
        for name, value in headers:
            if name == b"host":
                if not self.serves(value, gateway):
                    return BAD_HOST
            elif gateway:
                continue
            elif name == b"origin":
                if value not in self.origins and value.lower() not in self.origins:
                    return CROSS_ORIGIN
            elif name == b"sec-fetch-site" and value.lower() in _REFUSED_SITES:
                return CROSS_SITE
        return None


def refused(reason: str, service: str | None, gateway: bool) -> HttpResponse:
    """The 403 for ``reason``, in the shape of the protocol called (``service``: the service
    model's name, None for ``/shoal/…`` and unknown paths)."""
    if gateway:
        return _json(403, {"message": f"Forbidden: {reason}"}, "ForbiddenException")
    if service == "lambda":
        doc: dict[str, str] = {"Type": "User", "Message": reason}
    elif service == "efs":
        doc = {"ErrorCode": "AccessDeniedException", "Message": reason}
    else:
        doc = {"message": reason}  # apigatewayv2's AccessDeniedException shape, and Shoal's own
    return _json(403, doc, "AccessDeniedException")


def _json(status: int, doc: dict[str, str], error_type: str) -> HttpResponse:
    headers = [("x-amzn-ErrorType", error_type), ("Content-Type", "application/json")]
    return HttpResponse(status, headers, json.dumps(doc).encode())
