"""Requests to a custom domain name: which API and stage serve them, and at what path.

A request whose ``Host`` (port aside) is a domain name (or one label under a wildcard
domain's ``*.``, when it has no domain of its own) goes to the API mapping whose
``ApiMappingKey`` is the longest one matching the start of its path, segment by segment: with
mappings ``""``, ``v1`` and ``v1/orders``, ``/v1/orders/7`` is ``v1/orders``'s (route path
``/7``), ``/v1/x`` is ``v1``'s (``/x``), ``/other`` the root mapping's. The key is stripped
before the route is matched, as API Gateway strips it; the event's ``rawPath`` (and 1.0's
``path``) is the path as sent, key included, and the stage is the mapping's: it is not in the
path, as on AWS. A path no mapping matches is answered 404 ``{"message":"Not Found"}``.

The mapped request is handed to the ``/execute-api/`` app as that API's, with the mapping in
the scope (:data:`MAPPED`): the execute-api endpoint's own switch (DisableExecuteApiEndpoint)
does not apply to a custom domain, as on AWS.

Cost: nothing when no domain exists; otherwise one dict lookup of the Host's name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from shoal.api.bodies import WIRE_PATH, Scope
from shoal.gateway.domains import DomainName
from shoal.gateway.host_routing import EXECUTE_API_PREFIX, HOST_STYLE

MAPPED = "shoal.domain_mapping"  # scope key: the Mapped a custom domain request goes to


@dataclass(frozen=True, slots=True)
class Mapped:
    domain: str
    api_id: str
    stage: str
    key: str  # the ApiMappingKey matched ("" for the root): $context.customDomain.basePathMatched
    route_path: str  # the path the API's routes see, the key stripped
    raw_path: str  # the path as sent: the event's rawPath


@dataclass(frozen=True, slots=True)
class _Entry:
    key: str
    prefix: str  # "/" + key, or "" for the root
    api_id: str
    stage: str


class DomainRoutes:
    """The data plane's host map, rebuilt whole on each change (one attribute assignment)."""

    def __init__(self) -> None:
        self.hosts: Mapping[bytes, tuple[_Entry, ...]] = {}
        # Names Shoal answers to itself: never a domain's, even one made before a restart
        # that added an --allowed-host (the control plane keeps its names).
        self.reserved: frozenset[bytes] = frozenset()

    def publish(self, domains: Iterable[DomainName], reserved: Iterable[str] = ()) -> None:
        self.reserved = frozenset(n.encode() for n in reserved)
        hosts: dict[bytes, tuple[_Entry, ...]] = {}
        for domain in domains:
            entries = [_Entry(m.key, "/" + m.key if m.key else "", m.api_id, m.stage)
                       for m in domain.mappings.values()]  # fmt: skip
            entries.sort(key=lambda e: -len(e.prefix))
            hosts[domain.name.encode()] = tuple(entries)
        self.hosts = hosts

    def served(self, name: bytes) -> bool:
        return name in self.hosts

    def routed(self, scope: Scope) -> Scope | None:
        """``scope`` as the mapped API's request, or None when its Host is no domain's.
        A domain's request that no mapping matches goes to ``/execute-api/`` with
        :data:`MAPPED` None (the empty API id: answered 404, as API Gateway answers it)."""
        hosts = self.hosts
        if not hosts:
            return None
        for name, value in scope["headers"]:
            if name == b"host":
                host = value.lower()
                host = host.rsplit(b":", 1)[0] if b":" in host and not host.endswith(b"]") else host
                host = host.rstrip(b".")  # "api.example.internal." names it too
                entries = hosts.get(host)
                if entries is None:  # a wildcard domain's, one label down?
                    entries = hosts.get(b"*." + host.partition(b".")[2])
                if entries is None or host in self.reserved:
                    return None
                return _route(scope, host.decode("latin-1"), entries)
        return None


def _route(scope: Scope, domain: str, entries: tuple[_Entry, ...]) -> Scope:
    path: str = scope["path"]
    wire = scope.get("raw_path") or path.encode()
    for entry in entries:
        prefix = entry.prefix
        if not prefix or path == prefix or path.startswith(prefix + "/"):
            rest = path[len(prefix) :] or "/"
            mapped = Mapped(domain, entry.api_id, entry.stage, entry.key, rest, path)
            inner = f"{EXECUTE_API_PREFIX}{entry.api_id}{rest}"
            return {**scope, "path": inner, "raw_path": inner.encode(), MAPPED: mapped,
                    WIRE_PATH: wire, HOST_STYLE: True}  # fmt: skip
    inner = EXECUTE_API_PREFIX  # no mapping: the empty API id, answered 404 (still the domain's)
    return {**scope, "path": inner, "raw_path": inner.encode(), MAPPED: None, WIRE_PATH: wire,
            HOST_STYLE: True}  # fmt: skip
