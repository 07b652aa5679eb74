"""API Gateway v2 tagging (``TagResource``, ``UntagResource``, ``GetTags``) of HTTP APIs and
their stages, by ARN (:mod:`shoal.gateway.tagging`).

An ARN of another region, or of an API that does not exist, is not found, worded as API
Gateway words an unknown API ("Invalid API identifier specified ACCOUNT:ID").
"""

from __future__ import annotations

from typing import Any

from shoal.api.apigatewayv2_scope import gateway_of
from shoal.api.dispatch import Call, apigatewayv2_api
from shoal.gateway import tagging
from shoal.gateway.models import Api
from shoal.gateway.service import GatewayService


def _target(call: Call) -> tuple[GatewayService, Api, tagging.TagTarget]:
    gateway = gateway_of(call)
    target = tagging.parse_arn(call.params["ResourceArn"])
    region = target.region if target.region == call.region else "-"  # another: not found
    return gateway, gateway.apis.get(target.api_id, region), target


@apigatewayv2_api.handles("GetTags")
async def get_tags(call: Call) -> dict[str, Any]:
    _, api, target = _target(call)
    return {"Tags": tagging.tags_of(api, target)}


@apigatewayv2_api.handles("TagResource")
async def tag_resource(call: Call) -> None:
    gateway, api, target = _target(call)
    tags = tagging.added(tagging.tags_of(api, target), call.params.get("Tags") or {})
    gateway.apis.replace(tagging.with_tags(api, target, tags))


@apigatewayv2_api.handles("UntagResource")
async def untag_resource(call: Call) -> None:
    gateway, api, target = _target(call)
    tags = tagging.removed(tagging.tags_of(api, target), call.params.get("TagKeys") or [])
    gateway.apis.replace(tagging.with_tags(api, target, tags))
