"""What API Gateway v2's API modules share: the gateway service, and MaxResults/NextToken
paging (the token is the offset of the next item, opaque to the client)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from shoal.api.dispatch import Call
from shoal.errors import AwsError

if TYPE_CHECKING:
    from shoal.gateway.service import GatewayService


def gateway_of(call: Call) -> GatewayService:
    service: GatewayService = call.shoal.gateway
    return service


def page(items: list[dict[str, Any]], params: Mapping[str, Any]) -> dict[str, Any]:
    """One page of ``items`` (in their wire shape)."""
    try:
        start = int(params.get("NextToken") or 0)
        size = int(params.get("MaxResults") or 100)
    except ValueError:
        raise AwsError("BadRequestException", "Invalid NextToken or MaxResults") from None
    found: dict[str, Any] = {"Items": items[start : start + size]}
    if start + size < len(items):
        found["NextToken"] = str(start + size)
    return found
