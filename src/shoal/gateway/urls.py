"""The function URL registry: at most one URL per function and qualifier (alias or none).

In memory: ``(function ARN, qualifier or "") -> FunctionUrl`` for the control plane (the
unqualified ARN: the same name in two regions is two functions) and
``url id -> FunctionUrl`` for the data plane; written through to the store (kind
``function_url``). Runs on the event loop only. Errors are Lambda's
(``ResourceNotFoundException``, ``ResourceConflictException``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from shoal.errors import AwsError
from shoal.gateway.models import FunctionUrl, new_url_id, now
from shoal.store.sqlite import Store

KIND = "function_url"


def _missing() -> AwsError:
    return AwsError("ResourceNotFoundException", "The resource you requested does not exist.")


class UrlRegistry:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._by_function: dict[tuple[str, str], FunctionUrl] = {}
        # Read by the data plane on every request.
        self.by_id: dict[str, FunctionUrl] = {}

    def load(self) -> None:
        for doc in self._store.load(KIND).values():
            self._put(FunctionUrl.from_doc(doc), persist=False)

    def _put(self, url: FunctionUrl, persist: bool = True) -> FunctionUrl:
        if persist:  # first: a failed write changes nothing
            self._store.put(KIND, url.url_id, url.to_doc())
        self._by_function[(url.function_arn, url.qualifier or "")] = url
        self.by_id[url.url_id] = url
        return url

    def create(
        self,
        function_name: str,
        function_arn: str,
        qualifier: str | None,
        auth_type: str,
        cors: Mapping[str, Any] | None,
        invoke_mode: str | None,
    ) -> FunctionUrl:
        key = (function_arn, qualifier or "")
        if key in self._by_function:
            arn = f"{function_arn}:{qualifier}" if qualifier else function_arn
            raise AwsError(
                "ResourceConflictException",
                f"Failed to create function url config for [functionArn = {arn}]. "
                "Error message:  FunctionUrlConfig exists for this Lambda function",
            )
        url_id = new_url_id()
        while url_id in self.by_id:
            url_id = new_url_id()
        return self._put(
            FunctionUrl(
                url_id,
                function_name,
                function_arn,
                qualifier,
                auth_type,
                cors,
                invoke_mode or "BUFFERED",
            )
        )

    def get(self, function_arn: str, qualifier: str | None) -> FunctionUrl:
        url = self._by_function.get((function_arn, qualifier or ""))
        if url is None:
            raise _missing()
        return url

    def list(self, function_arn: str) -> list[FunctionUrl]:
        return sorted(
            (u for (arn, _), u in self._by_function.items() if arn == function_arn),
            key=lambda u: (u.created, u.url_id),
        )

    def update(
        self,
        function_arn: str,
        qualifier: str | None,
        auth_type: str | None,
        cors: Mapping[str, Any] | None,
        invoke_mode: str | None,
    ) -> FunctionUrl:
        old = self.get(function_arn, qualifier)
        new = dataclasses.replace(
            old,
            auth_type=auth_type or old.auth_type,
            cors=old.cors if cors is None else cors,
            invoke_mode=invoke_mode or old.invoke_mode,
            modified=now(),
        )
        return self._put(new)

    def delete(self, function_arn: str, qualifier: str | None) -> None:
        url = self.get(function_arn, qualifier)
        self._store.delete(KIND, url.url_id)
        del self._by_function[(function_arn, qualifier or "")]
        del self.by_id[url.url_id]
