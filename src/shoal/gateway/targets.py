"""Which function an AWS_PROXY integration calls.

An integration URI is a function ARN (``arn:aws:lambda:REGION:ACCOUNT:function:NAME``, maybe
with ``:QUALIFIER``), the API Gateway form of it
(``arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/FUNCTION_ARN/invocations``), or a
bare function name. ``${stageVariables.NAME}`` in it is replaced per request with the stage's
variable, as API Gateway does, so one API can call a different alias per stage.

Functions are per region: a target names its function by its unqualified ARN, so a bare name
is the function of the API's own region and an ARN says its region itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_APIGW_FORM = re.compile(
    r"^arn:aws[\w-]*:apigateway:[^:]*:lambda:path/[^/]+/functions/(.+)/invocations$"
)
_STAGE_VAR = re.compile(r"\$\{stageVariables\.([A-Za-z0-9_]+)\}")


class BadFunctionUri(ValueError):
    pass


@dataclass(frozen=True)
class FunctionTarget:
    """What a route invokes; made when routes change, read on every request."""

    function_name: str  # the unqualified ARN (a bare name when no region was given)
    qualifier: str | None
    payload_version: str  # "2.0" | "1.0"
    uri_template: str | None = None  # set when the URI holds stage variables
    region: str = ""  # the API's: where a bare function name is
    account: str = ""

    def resolve(self, stage_variables: Mapping[str, str]) -> tuple[str, str | None]:
        if self.uri_template is None:
            return self.function_name, self.qualifier
        uri = _STAGE_VAR.sub(lambda m: stage_variables.get(m.group(1), ""), self.uri_template)
        name, qualifier = parse_function_uri(uri)
        return _in_region(name, self.region, self.account), qualifier


def _in_region(function: str, region: str, account: str) -> str:
    if function.startswith("arn:") or not region:
        return function
    return f"arn:aws:lambda:{region}:{account}:function:{function}"


def parse_function_uri(uri: str) -> tuple[str, str | None]:
    """(function, qualifier or None) of an integration URI; the function is a bare name or
    its unqualified ARN, as the URI gives it."""
    m = _APIGW_FORM.match(uri)
    if m is not None:
        uri = m.group(1)
    if uri.startswith("arn:"):
        parts = uri.split(":")
        # arn:aws:lambda:region:account:function:name[:qualifier]
        if len(parts) < 7 or parts[2] != "lambda" or parts[5] != "function" or not parts[6]:
            raise BadFunctionUri(f"Invalid integration URI specified: {uri}")
        return ":".join(parts[:7]), (parts[7] or None) if len(parts) > 7 else None
    if not uri or "/" in uri:
        raise BadFunctionUri(f"Invalid integration URI specified: {uri}")
    name, _, qualifier = uri.partition(":")
    return name, qualifier or None


def function_target(
    uri: str, payload_version: str, region: str = "", account: str = ""
) -> FunctionTarget:
    """The target of ``uri`` for an API of ``region`` (where a bare name is)."""
    if _STAGE_VAR.search(uri):
        return FunctionTarget("", None, payload_version, uri, region, account)
    name, qualifier = parse_function_uri(uri)
    return FunctionTarget(
        _in_region(name, region, account), qualifier, payload_version, None, region, account
    )
