"""Custom domain names and their API mappings (API Gateway v2's ``DomainName``, ``ApiMapping``).

A domain name (``api.example.internal``) is served on Shoal's one port: a request whose
``Host`` names it goes to the API and stage one of its mappings names
(:mod:`shoal.gateway.domain_routing`), over TLS with the domain's certificate, picked by SNI
(:mod:`shoal.gateway.certificates`: there is no ACM, so a ``CertificateArn`` names a
certificate the operator put in files).

The registry owns ``domain name -> DomainName`` (immutable, replaced on each change), writes
each domain through to the store as one document (kind ``domain_name``) before publishing it,
and then calls ``on_change()`` so the data plane's host map is rebuilt. Every method runs on
the event loop without awaiting.

A domain name is unique across regions (Shoal's port is every region's endpoint, and a
``Host`` names no region) and may never be one of the names Shoal itself answers to (the
loopback names, ``--host``, ``--allowed-host``, ``*.localhost``), nor an IP address: a domain
must not take the control plane's requests, or another API's, away from them. A wildcard
domain (``*.example.internal``) serves every name one label under it that has no domain of
its own, and may not cover one of Shoal's names either.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from shoal.errors import AwsError
from shoal.gateway.models import new_id, now
from shoal.gateway.rules import bad_request
from shoal.store.sqlite import Store

KIND = "domain_name"

# RFC 1123 host name labels, lower-case, at least two labels.
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{1,63}$")
# An ApiMappingKey: path segments of unreserved characters, "v1" or "v1/orders".
_MAPPING_KEY = re.compile(r"^[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*$")
MAX_MAPPINGS = 200  # API Gateway's quota of API mappings per domain


@dataclass(frozen=True)
class ApiMapping:
    mapping_id: str
    api_id: str
    stage: str
    key: str  # "" for the domain's root, else "v1" or "v1/orders" (no leading "/")


@dataclass(frozen=True)
class DomainName:
    name: str
    region: str
    certificate_id: str  # the file-based certificate (shoal.gateway.certificates)
    configuration: Mapping[str, Any]  # the DomainNameConfiguration as answered
    created: dt.datetime = field(default_factory=now)
    mutual_tls: Mapping[str, Any] | None = None
    routing_mode: str = "API_MAPPING_ONLY"
    tags: Mapping[str, str] = field(default_factory=dict)
    mappings: Mapping[str, ApiMapping] = field(default_factory=dict)

    def to_doc(self) -> dict[str, Any]:
        doc = dataclasses.asdict(self)
        doc["created"] = self.created.isoformat()
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> DomainName:
        doc = dict(doc, created=dt.datetime.fromisoformat(doc["created"]))
        doc["mappings"] = {k: ApiMapping(**v) for k, v in doc.get("mappings", {}).items()}
        return cls(**doc)


def not_found_domain(name: str) -> AwsError:
    return AwsError("NotFoundException", f"Invalid domain name identifier specified {name}")


class DomainRegistry:
    """Domain names and their mappings; ``reserved`` are the host names no domain may take,
    ``api_stage(api_id, stage, region)`` raises NotFoundException for an unknown one."""

    def __init__(self, store: Store, reserved: Callable[[], Collection[str]],
                 api_stage: Callable[[str, str, str], None],
                 on_change: Callable[[], None]) -> None:  # fmt: skip
        self._store = store
        self._reserved = reserved
        self._api_stage = api_stage
        self._on_change = on_change
        self._domains: dict[str, DomainName] = {}

    def load(self) -> None:
        for doc in self._store.load(KIND).values():
            domain = DomainName.from_doc(doc)
            self._domains[domain.name] = domain
        self._on_change()

    def all_domains(self) -> list[DomainName]:
        return list(self._domains.values())

    def _save(self, domain: DomainName) -> DomainName:
        self._store.put(KIND, domain.name, domain.to_doc())  # first: a failed write changes nothing
        self._domains[domain.name] = domain
        self._on_change()
        return domain

    # ------------------------------------------------------------------------ domains

    def get(self, name: str, region: str) -> DomainName:
        domain = self._domains.get(name.lower())
        if domain is None or domain.region != region:
            raise not_found_domain(name)
        return domain

    def list(self, region: str) -> list[DomainName]:
        return sorted((d for d in self._domains.values() if d.region == region),
                      key=lambda d: (d.created, d.name))  # fmt: skip

    def create(self, name: str, region: str, certificate_id: str,
               configuration: Mapping[str, Any], mutual_tls: Mapping[str, Any] | None,
               routing_mode: str | None, tags: Mapping[str, str]) -> DomainName:  # fmt: skip
        name = name.lower()
        if name.endswith("."):
            name = name[:-1]
        bare = name[2:] if name.startswith("*.") else name  # a wildcard: one label, any
        if not _DOMAIN.match(bare) or _is_address(bare) or (bare != name and "." not in bare):
            raise bad_request(f"Invalid domain name: {name}")
        reserved = self._reserved()
        if bare == "localhost" or bare.endswith(".localhost") or name in reserved or (
            bare != name and any(r.partition(".")[2] == bare for r in reserved)
        ):
            raise bad_request(f"The domain name {name} is one Shoal itself serves")
        if name in self._domains:
            raise AwsError("ConflictException", f"The domain name resource already exists: {name}")
        domain = DomainName(name, region, certificate_id, dict(configuration),
                            mutual_tls=mutual_tls, routing_mode=_routing_mode(routing_mode),
                            tags=dict(tags))  # fmt: skip
        return self._save(domain)

    def update(self, name: str, region: str, certificate_id: str | None,
               configuration: Mapping[str, Any] | None, mutual_tls: Mapping[str, Any] | None,
               routing_mode: str | None) -> DomainName:  # fmt: skip
        old = self.get(name, region)
        changes: dict[str, Any] = {}
        if certificate_id is not None and configuration is not None:
            changes.update(certificate_id=certificate_id, configuration=dict(configuration))
        if mutual_tls is not None:
            changes["mutual_tls"] = mutual_tls
        if routing_mode is not None:
            changes["routing_mode"] = _routing_mode(routing_mode)
        return self._save(dataclasses.replace(old, **changes))

    def replace_tags(self, name: str, region: str, tags: Mapping[str, str]) -> DomainName:
        return self._save(dataclasses.replace(self.get(name, region), tags=dict(tags)))

    def delete(self, name: str, region: str) -> None:
        domain = self.get(name, region)
        self._store.delete(KIND, domain.name)
        del self._domains[domain.name]
        self._on_change()

    # ----------------------------------------------------------------------- mappings

    def create_mapping(self, name: str, region: str, api_id: str, stage: str,
                       key: str | None) -> ApiMapping:  # fmt: skip
        domain = self.get(name, region)
        self._api_stage(api_id, stage, region)
        key = _mapping_key(key)
        _check_free(domain, key, None)
        if len(domain.mappings) >= MAX_MAPPINGS:
            raise AwsError("BadRequestException", "Too many API mappings for this domain name")
        mapping_id = new_id(6)
        while mapping_id in domain.mappings:
            mapping_id = new_id(6)
        mapping = ApiMapping(mapping_id, api_id, stage, key)
        self._save(dataclasses.replace(domain, mappings={**domain.mappings, mapping_id: mapping}))
        return mapping

    def get_mapping(self, name: str, region: str, mapping_id: str) -> ApiMapping:
        mapping = self.get(name, region).mappings.get(mapping_id)
        if mapping is None:
            raise AwsError(
                "NotFoundException", f"Invalid API mapping identifier specified {mapping_id}"
            )
        return mapping

    def update_mapping(self, name: str, region: str, mapping_id: str, api_id: str,
                       stage: str | None, key: str | None) -> ApiMapping:  # fmt: skip
        domain = self.get(name, region)
        old = self.get_mapping(name, region, mapping_id)
        stage = stage or old.stage
        self._api_stage(api_id, stage, region)
        new_key = old.key if key is None else _mapping_key(key)
        _check_free(domain, new_key, mapping_id)
        mapping = ApiMapping(mapping_id, api_id, stage, new_key)
        self._save(dataclasses.replace(domain, mappings={**domain.mappings, mapping_id: mapping}))
        return mapping

    def delete_mapping(self, name: str, region: str, mapping_id: str) -> None:
        domain = self.get(name, region)
        self.get_mapping(name, region, mapping_id)
        mappings = {k: v for k, v in domain.mappings.items() if k != mapping_id}
        self._save(dataclasses.replace(domain, mappings=mappings))

    def forget_api(self, api_id: str) -> None:
        """An API was deleted: its mappings go with it, as on AWS."""
        for domain in list(self._domains.values()):
            kept = {k: v for k, v in domain.mappings.items() if v.api_id != api_id}
            if len(kept) != len(domain.mappings):
                self._save(dataclasses.replace(domain, mappings=kept))


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _routing_mode(mode: str | None) -> str:
    if mode in (None, "API_MAPPING_ONLY"):
        return "API_MAPPING_ONLY"
    raise bad_request(f"Shoal supports RoutingMode API_MAPPING_ONLY only, not {mode}")


def _mapping_key(key: str | None) -> str:
    """The ApiMappingKey as kept: no leading or trailing "/" ("" or "(none)" for the root)."""
    key = (key or "").strip("/")
    if key in ("", "(none)"):
        return ""
    if not _MAPPING_KEY.match(key) or len(key) > 512:
        raise bad_request(f"Invalid API mapping key: {key}")
    return key


def _check_free(domain: DomainName, key: str, own_id: str | None) -> None:
    for other in domain.mappings.values():
        if other.mapping_id != own_id and other.key == key:
            raise AwsError(
                "ConflictException",
                f"API mapping key {key or '(none)'} already exists for domain name {domain.name}",
            )
