"""Route responses of WebSocket API routes (``CreateRouteResponse`` and the rest).

A route response says a route is two-way; API Gateway keeps one per route response key (for a
Lambda proxy route, ``$default``) with its ``ModelSelectionExpression``, ``ResponseModels`` and
``ResponseParameters``, which Shoal keeps as given. What makes a route two-way on the data plane
is its ``RouteResponseSelectionExpression`` (:mod:`shoal.gateway.websocket_live`).

``api id -> route id -> route response id -> members``, written through to the store (kind
``ws_route_response``, one document per API) before the map changes; event loop only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shoal.errors import AwsError
from shoal.gateway.models import Api, new_id
from shoal.gateway.rules import bad_request, not_found
from shoal.store.sqlite import Store

KIND = "ws_route_response"
MEMBERS = ("ModelSelectionExpression", "ResponseModels", "ResponseParameters", "RouteResponseKey")


class RouteResponseRegistry:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._by_api: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}

    def load(self) -> None:
        for api_id, doc in self._store.load(KIND).items():
            self._by_api[api_id] = doc

    def _put(self, api_id: str, routes: dict[str, dict[str, dict[str, Any]]]) -> None:
        routes = {k: v for k, v in routes.items() if v}
        if routes:
            self._store.put(KIND, api_id, routes)
        elif api_id in self._by_api:
            self._store.delete(KIND, api_id)
        self._by_api[api_id] = routes

    def of(self, api: Api, route_id: str) -> Mapping[str, dict[str, Any]]:
        if api.protocol_type != "WEBSOCKET":
            raise bad_request("Route responses are supported only for WebSocket APIs")
        if route_id not in api.routes:
            raise not_found("Route", route_id)
        return self._by_api.get(api.api_id, {}).get(route_id, {})

    def get(self, api: Api, route_id: str, response_id: str) -> dict[str, Any]:
        found = self.of(api, route_id).get(response_id)
        if found is None:
            raise not_found("RouteResponse", response_id)
        return found

    def put(self, api: Api, route_id: str, response_id: str | None,
            members: Mapping[str, Any]) -> dict[str, Any]:  # fmt: skip
        """Create (``response_id`` None) or update a route response."""
        current = dict(self.of(api, route_id))
        old = current.get(response_id or "", {})
        if response_id is not None and not old:
            raise not_found("RouteResponse", response_id)
        new = {**old, **{k: v for k, v in members.items() if k in MEMBERS}}
        key = new.get("RouteResponseKey")
        if key != "$default":
            raise bad_request(f"Invalid route response key {key}: only $default is supported")
        for other_id, other in current.items():
            if other_id != response_id and other.get("RouteResponseKey") == key:
                raise AwsError("ConflictException", f"Route response {key} already exists")
        response_id = response_id or new_id(6)
        new["RouteResponseId"] = response_id
        routes = dict(self._by_api.get(api.api_id, {}))
        routes[route_id] = {**current, response_id: new}
        self._put(api.api_id, routes)
        return new

    def delete(self, api: Api, route_id: str, response_id: str) -> None:
        self.get(api, route_id, response_id)
        routes = dict(self._by_api.get(api.api_id, {}))
        routes[route_id] = {k: v for k, v in routes[route_id].items() if k != response_id}
        self._put(api.api_id, routes)

    def forget(self, api_id: str) -> None:
        """The API is gone: its route responses go with it."""
        if api_id in self._by_api:
            self._put(api_id, {})
            del self._by_api[api_id]
