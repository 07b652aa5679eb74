"""Gateway requests named by host: ``{apiId}.execute-api[.{region}].localhost`` and
``{urlId}.lambda-url[.{region}].localhost``, made the path-routed requests of the data plane
(:mod:`shoal.gateway.http`), and the scope keys that say how a request was routed."""

from __future__ import annotations

from shoal.api.admission import GATEWAY_HOST
from shoal.api.bodies import WIRE_PATH, Scope

EXECUTE_API_PREFIX = "/execute-api/"
LAMBDA_URL_PREFIX = "/lambda-url/"
HOST_STYLE = "shoal.host_style"  # scope key: the request named its API by host (host_routed)
_HOST_KINDS = {b"execute-api": EXECUTE_API_PREFIX, b"lambda-url": LAMBDA_URL_PREFIX}
REGION_KEY = "shoal.region"  # in a host-routed scope: the region its host names, if any


def host_routed(scope: Scope) -> Scope | None:
    """For AWS-shaped host names: a request to ``{apiId}.execute-api[.{region}].localhost[:port]
    /path`` (or ``{urlId}.lambda-url[.{region}].localhost``) as the scope of
    ``/execute-api/{apiId}/path``, with the region named (under :data:`REGION_KEY`): an API or
    URL answers only under its own region's name. None for any other host. ``*.localhost``
    resolves to the loopback address without DNS set-up (curl, browsers, systemd-resolved).
    The HTTP app may call this before its path routing."""
    for name, value in scope["headers"]:
        if name == b"host":
            if b".localhost" not in value:
                return None  # the usual case (127.0.0.1:port, a real name): no look further
            host = value.rsplit(b":", 1)[0] if not value.endswith(b"]") else value
            m = GATEWAY_HOST.match(host)
            if m is None:
                return None
            ident, kind, region = m.groups()
            path = f"{_HOST_KINDS[kind]}{ident.decode('latin-1')}{scope['path']}"
            routed = {**scope, "path": path, "raw_path": path.encode(), HOST_STYLE: True,
                      WIRE_PATH: scope.get("raw_path") or scope["path"].encode()}
            if region:
                routed[REGION_KEY] = region.decode("latin-1")
            return routed
    return None
