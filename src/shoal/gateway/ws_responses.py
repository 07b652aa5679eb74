"""Route responses and integration responses of WebSocket APIs (``CreateRouteResponse``,
``CreateIntegrationResponse`` and the rest).

A route response says a route is two-way; API Gateway keeps one per route response key (for a
Lambda proxy route, ``$default``) with its ``ModelSelectionExpression``, ``ResponseModels`` and
``ResponseParameters``. An integration response maps an integration's answer by a selection key
(``$default``, or a status pattern such as ``/2\\d\\d/``) with ``ResponseTemplates``,
``TemplateSelectionExpression``, ``ContentHandlingStrategy``. Shoal keeps both as given: a
Lambda proxy integration's answer goes back as it is, and what makes a route two-way on the
data plane is its ``RouteResponseSelectionExpression`` (:mod:`shoal.gateway.websocket_live`).

One :class:`ResponseRegistry` per kind: ``api id -> parent id (route or integration) ->
response id -> members``, written through to the store (one document per API) before the map
changes; event loop only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shoal.errors import AwsError
from shoal.gateway.models import Api, new_id
from shoal.gateway.rules import bad_request, not_found
from shoal.store.sqlite import Store

# $default, or a status code pattern between slashes (/2\d\d/, /4\d\d/...).
_INTEGRATION_KEY = re.compile(r"^(\$default|/.+/)$")


@dataclass(frozen=True)
class Kind:
    store_kind: str
    noun: str  # "RouteResponse": the resource's name in errors and members
    parent: str  # "Route" | "Integration"
    members: tuple[str, ...]

    @property
    def id_member(self) -> str:
        return f"{self.noun}Id"

    @property
    def key_member(self) -> str:
        return f"{self.noun}Key"

    def check_key(self, key: Any) -> None:
        if self.parent == "Route" and key != "$default":
            raise bad_request(f"Invalid route response key {key}: only $default is supported")
        if self.parent == "Integration" and not (
            isinstance(key, str) and _INTEGRATION_KEY.match(key)
        ):
            raise bad_request(f"Invalid integration response key {key}: $default or /PATTERN/")


ROUTE_RESPONSES = Kind(
    "ws_route_response", "RouteResponse", "Route",
    ("ModelSelectionExpression", "ResponseModels", "ResponseParameters", "RouteResponseKey"),
)  # fmt: skip
INTEGRATION_RESPONSES = Kind(
    "ws_integration_response", "IntegrationResponse", "Integration",
    ("ContentHandlingStrategy", "IntegrationResponseKey", "ResponseParameters",
     "ResponseTemplates", "TemplateSelectionExpression"),
)  # fmt: skip


class ResponseRegistry:
    def __init__(self, store: Store, kind: Kind) -> None:
        self._store = store
        self.kind = kind
        self._by_api: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}

    def load(self) -> None:
        for api_id, doc in self._store.load(self.kind.store_kind).items():
            self._by_api[api_id] = doc

    def _put(self, api_id: str, parents: dict[str, dict[str, dict[str, Any]]]) -> None:
        parents = {k: v for k, v in parents.items() if v}
        if parents:
            self._store.put(self.kind.store_kind, api_id, parents)
        elif api_id in self._by_api:
            self._store.delete(self.kind.store_kind, api_id)
        self._by_api[api_id] = parents

    def of(self, api: Api, parent_id: str) -> Mapping[str, dict[str, Any]]:
        if api.protocol_type != "WEBSOCKET":
            raise bad_request(f"{self.kind.noun}s are supported only for WebSocket APIs")
        parents = api.routes if self.kind.parent == "Route" else api.integrations
        if parent_id not in parents:
            raise not_found(self.kind.parent, parent_id)
        return self._by_api.get(api.api_id, {}).get(parent_id, {})

    def get(self, api: Api, parent_id: str, response_id: str) -> dict[str, Any]:
        found = self.of(api, parent_id).get(response_id)
        if found is None:
            raise not_found(self.kind.noun, response_id)
        return found

    def put(self, api: Api, parent_id: str, response_id: str | None,
            members: Mapping[str, Any]) -> dict[str, Any]:  # fmt: skip
        """Create (``response_id`` None) or update one."""
        current = dict(self.of(api, parent_id))
        old = current.get(response_id or "", {})
        if response_id is not None and not old:
            raise not_found(self.kind.noun, response_id)
        new = {**old, **{k: v for k, v in members.items() if k in self.kind.members}}
        key = new.get(self.kind.key_member)
        self.kind.check_key(key)
        for other_id, other in current.items():
            if other_id != response_id and other.get(self.kind.key_member) == key:
                raise AwsError("ConflictException", f"{self.kind.noun} {key} already exists")
        response_id = response_id or new_id(6)
        new[self.kind.id_member] = response_id
        parents = dict(self._by_api.get(api.api_id, {}))
        parents[parent_id] = {**current, response_id: new}
        self._put(api.api_id, parents)
        return new

    def delete(self, api: Api, parent_id: str, response_id: str) -> None:
        self.get(api, parent_id, response_id)
        parents = dict(self._by_api.get(api.api_id, {}))
        parents[parent_id] = {k: v for k, v in parents[parent_id].items() if k != response_id}
        self._put(api.api_id, parents)

    def forget(self, api_id: str) -> None:
        """The API is gone: its responses go with it."""
        if api_id in self._by_api:
            self._put(api_id, {})
            del self._by_api[api_id]
