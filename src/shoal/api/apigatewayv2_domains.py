"""API Gateway v2 custom domain names and API mappings: wire members <-> the domain registry
(:mod:`shoal.gateway.domains`).

``DomainNameConfigurations`` holds one configuration, whose ``CertificateArn`` names a
certificate file (:mod:`shoal.gateway.certificates`); it is answered back with what API Gateway
fills in (``ApiGatewayDomainName``: the name a DNS record for the domain points at, here the
host clients reach Shoal by; ``DomainNameStatus`` ``AVAILABLE``; ``EndpointType``
``REGIONAL``, ``SecurityPolicy`` ``TLS_1_2``, ``IpAddressType`` ``ipv4`` unless given).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from shoal.api.apigatewayv2_scope import gateway_of, page
from shoal.api.dispatch import Call, apigatewayv2_api
from shoal.errors import AwsError
from shoal.gateway import tagging
from shoal.gateway.domains import ApiMapping, DomainName

MAPPING_SELECTION = "$request.basepath"
_ENDPOINT_TYPES = ("REGIONAL", "EDGE")
_POLICIES = ("TLS_1_2", "TLS_1_0")


def _bad(message: str) -> AwsError:
    return AwsError("BadRequestException", message)


def _domain(domain: DomainName) -> dict[str, Any]:
    found: dict[str, Any] = {
        "ApiMappingSelectionExpression": MAPPING_SELECTION,
        "DomainName": domain.name,
        "DomainNameArn": f"arn:aws:apigateway:{domain.region}::/domainnames/{domain.name}",
        "DomainNameConfigurations": [_timestamped(domain.configuration)],
        "RoutingMode": domain.routing_mode,
        "Tags": dict(domain.tags),
    }
    if domain.mutual_tls is not None:
        found["MutualTlsAuthentication"] = dict(domain.mutual_tls)
    return found


def _timestamped(configuration: Mapping[str, Any]) -> dict[str, Any]:
    found = dict(configuration)
    uploaded = found.get("CertificateUploadDate")
    if isinstance(uploaded, str):
        found["CertificateUploadDate"] = dt.datetime.fromisoformat(uploaded)
    return found


def _configuration(call: Call, name: str) -> tuple[str, dict[str, Any]]:
    """The one DomainNameConfiguration given, checked, as answered; its certificate id."""
    configurations = call.params.get("DomainNameConfigurations") or []
    if len(configurations) != 1:
        raise _bad("DomainNameConfigurations must hold exactly one configuration")
    given: Mapping[str, Any] = configurations[0]
    endpoint = given.get("EndpointType", "REGIONAL")
    policy = given.get("SecurityPolicy", "TLS_1_2")
    if endpoint not in _ENDPOINT_TYPES:
        raise _bad(f"Invalid EndpointType: {endpoint}")
    if policy not in _POLICIES:
        raise _bad(f"Invalid SecurityPolicy: {policy}")
    gateway = gateway_of(call)
    cert_id, info = gateway.certificates.certificate_id(
        str(given.get("CertificateArn") or ""), call.region, name
    )
    host = urlsplit(call.base_url).hostname or "localhost"
    configuration = {
        "ApiGatewayDomainName": host,
        "CertificateArn": given["CertificateArn"],
        **info,
        "DomainNameStatus": "AVAILABLE",
        "DomainNameStatusMessage": "",
        "EndpointType": endpoint,
        "IpAddressType": given.get("IpAddressType", "ipv4"),
        "SecurityPolicy": policy,
    }
    return cert_id, configuration


def _mutual_tls(call: Call) -> dict[str, Any] | None:
    given = call.params.get("MutualTlsAuthentication")
    if given:
        raise _bad("Shoal does not support mutual TLS authentication of custom domain names")
    return None


@apigatewayv2_api.handles("CreateDomainName")
async def create_domain_name(call: Call) -> dict[str, Any]:
    p = call.params
    name = str(p["DomainName"]).lower().rstrip(".")
    tagging.check(p.get("Tags") or {})
    cert_id, configuration = _configuration(call, name)
    domain = gateway_of(call).domains.create(
        name, call.region, cert_id, configuration, _mutual_tls(call), p.get("RoutingMode"),
        p.get("Tags") or {},
    )  # fmt: skip
    return _domain(domain)


@apigatewayv2_api.handles("GetDomainName")
async def get_domain_name(call: Call) -> dict[str, Any]:
    return _domain(gateway_of(call).domains.get(call.params["DomainName"], call.region))


@apigatewayv2_api.handles("GetDomainNames")
async def get_domain_names(call: Call) -> dict[str, Any]:
    domains = gateway_of(call).domains.list(call.region)
    return page([_domain(d) for d in domains], call.params)


@apigatewayv2_api.handles("UpdateDomainName")
async def update_domain_name(call: Call) -> dict[str, Any]:
    p = call.params
    registry = gateway_of(call).domains
    domain = registry.get(p["DomainName"], call.region)
    cert_id = configuration = None
    if p.get("DomainNameConfigurations"):
        cert_id, configuration = _configuration(call, domain.name)
    updated = registry.update(domain.name, call.region, cert_id, configuration,
                              _mutual_tls(call), p.get("RoutingMode"))  # fmt: skip
    return _domain(updated)


@apigatewayv2_api.handles("DeleteDomainName")
async def delete_domain_name(call: Call) -> None:
    gateway_of(call).domains.delete(call.params["DomainName"], call.region)


# ---------------------------------------------------------------------------- mappings


def _mapping(mapping: ApiMapping) -> dict[str, Any]:
    found = {"ApiId": mapping.api_id, "ApiMappingId": mapping.mapping_id, "Stage": mapping.stage}
    if mapping.key:
        found["ApiMappingKey"] = mapping.key
    return found


@apigatewayv2_api.handles("CreateApiMapping")
async def create_api_mapping(call: Call) -> dict[str, Any]:
    p = call.params
    mapping = gateway_of(call).domains.create_mapping(
        p["DomainName"], call.region, p["ApiId"], p["Stage"], p.get("ApiMappingKey")
    )
    return _mapping(mapping)


@apigatewayv2_api.handles("GetApiMapping")
async def get_api_mapping(call: Call) -> dict[str, Any]:
    p = call.params
    return _mapping(gateway_of(call).domains.get_mapping(p["DomainName"], call.region,
                                                         p["ApiMappingId"]))  # fmt: skip


@apigatewayv2_api.handles("GetApiMappings")
async def get_api_mappings(call: Call) -> dict[str, Any]:
    domain = gateway_of(call).domains.get(call.params["DomainName"], call.region)
    return page([_mapping(m) for m in domain.mappings.values()], call.params)


@apigatewayv2_api.handles("UpdateApiMapping")
async def update_api_mapping(call: Call) -> dict[str, Any]:
    p = call.params
    mapping = gateway_of(call).domains.update_mapping(
        p["DomainName"], call.region, p["ApiMappingId"], p["ApiId"], p.get("Stage"),
        p.get("ApiMappingKey"),
    )  # fmt: skip
    return _mapping(mapping)


@apigatewayv2_api.handles("DeleteApiMapping")
async def delete_api_mapping(call: Call) -> None:
    p = call.params
    gateway_of(call).domains.delete_mapping(p["DomainName"], call.region, p["ApiMappingId"])
