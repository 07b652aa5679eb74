"""API Gateway v2 tagging (``TagResource``, ``UntagResource``, ``GetTags``) of HTTP APIs,
their stages and custom domain names, by ARN (:mod:`shoal.gateway.tagging`; a domain's,
``arn:aws:apigateway:REGION::/domainnames/NAME``, is the domain registry's).

An ARN of another region, or of an API that does not exist, is not found, worded as API
Gateway words an unknown API ("Invalid API identifier specified ACCOUNT:ID").
"""

from __future__ import annotations

import re
from typing import Any

from shoal.api.apigatewayv2_scope import gateway_of
from shoal.api.dispatch import Call, apigatewayv2_api
from shoal.gateway import tagging
from shoal.gateway.domains import DomainName
from shoal.gateway.models import Api
from shoal.gateway.service import GatewayService

_DOMAIN_ARN = re.compile(r"arn:aws:apigateway:([a-z0-9-]+)::/domainnames/([^/]+)")


def _target(call: Call) -> tuple[GatewayService, Api, tagging.TagTarget]:
    gateway = gateway_of(call)
    target = tagging.parse_arn(call.params["ResourceArn"])
    region = target.region if target.region == call.region else "-"  # another: not found
    return gateway, gateway.apis.get(target.api_id, region), target


def _domain(call: Call) -> DomainName | None:
    """The domain name the ARN names (of the call's region, else not found), or None."""
    found = _DOMAIN_ARN.fullmatch(call.params["ResourceArn"])
    if found is None:
        return None
    region = found[1] if found[1] == call.region else "-"
    return gateway_of(call).domains.get(found[2], region)


def _retag(call: Call, domain: DomainName, tags: dict[str, str]) -> None:
    tagging.check(tags)
    gateway_of(call).domains.replace_tags(domain.name, domain.region, tags)


@apigatewayv2_api.handles("GetTags")
async def get_tags(call: Call) -> dict[str, Any]:
    domain = _domain(call)
    if domain is not None:
        return {"Tags": dict(domain.tags)}
    _, api, target = _target(call)
    return {"Tags": tagging.tags_of(api, target)}


@apigatewayv2_api.handles("TagResource")
async def tag_resource(call: Call) -> None:
    domain = _domain(call)
    if domain is not None:
        return _retag(call, domain, tagging.added(domain.tags, call.params.get("Tags") or {}))
    gateway, api, target = _target(call)
    tags = tagging.added(tagging.tags_of(api, target), call.params.get("Tags") or {})
    gateway.apis.replace(tagging.with_tags(api, target, tags))


@apigatewayv2_api.handles("UntagResource")
async def untag_resource(call: Call) -> None:
    domain = _domain(call)
    if domain is not None:
        keys = call.params.get("TagKeys") or []
        return _retag(call, domain, tagging.removed(domain.tags, keys))
    gateway, api, target = _target(call)
    tags = tagging.removed(tagging.tags_of(api, target), call.params.get("TagKeys") or [])
    gateway.apis.replace(tagging.with_tags(api, target, tags))
