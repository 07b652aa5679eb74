"""HTTP API access logs: a stage's ``AccessLogSettings``, one line per request into a log group.

``DestinationArn`` is a CloudWatch Logs group of the API's region and Shoal's account
(``arn:aws:logs:REGION:ACCOUNT:log-group:NAME``, a trailing ``:*`` allowed); ``Format`` a
single line (a newline only at its end) with API Gateway's ``$context.*`` variables, at least
one of ``$context.requestId`` and ``$context.extendedRequestId``, in any of the shapes the
developer guide shows (CLF, JSON, XML, CSV: the text around the variables is kept as it is).
Anything else is refused with BadRequestException when the stage is created or updated
(:func:`check`).

Each request of such a stage becomes one event in that group, in the stream the stage writes
(one per API, stage and server run, named ``{apiId}_{stage}-{32 hex}``), made as the first
event is written, as is the group when it does not exist (Lambda's groups are made the same
way). A variable without a value (no authorizer, no integration) is written ``-``, as API
Gateway writes it.

Off the request's path: rendering a line is a few attribute reads into a list of compiled
parts (:class:`Template`, made once per format), and writing it is appending it to the log
service's pending batch (:mod:`shoal.observability.logs`), whose one writer thread stores the
batch at most ``FLUSH_DELAY_S`` later. Nothing awaits, nothing touches the disk.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from shoal.errors import AwsError
from shoal.gateway.exchange import Exchange
from shoal.observability.logstore import Pending

if TYPE_CHECKING:
    from shoal.observability.logs import LogService

_GROUP_ARN = re.compile(r"^arn:aws:logs:([a-z0-9-]+):(\d{12}):log-group:([\w#./-]{1,512})(?::\*)?$")
_VARIABLE = re.compile(r"\$context\.([A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z][A-Za-z0-9_-]*)*)")
DASH = "-"


def _bad(message: str) -> AwsError:
    return AwsError("BadRequestException", message)


def group_of(arn: str) -> tuple[str, str, str] | None:
    """(region, account, group name) of a log group ARN, or None."""
    m = _GROUP_ARN.match(arn)
    return (m.group(1), m.group(2), m.group(3)) if m else None


def check(settings: Mapping[str, Any] | None, region: str, account: str) -> None:
    """Refuse ``AccessLogSettings`` API Gateway refuses (see the module docstring)."""
    if not settings:
        return
    arn, fmt = settings.get("DestinationArn"), settings.get("Format")
    if not arn and not fmt:
        return
    if not arn:
        raise _bad("Access Log destination must be specified with the Access Log format")
    parsed = group_of(str(arn))
    if parsed is None:
        raise _bad(f"Invalid ARN specified in the request: {arn}")
    if parsed[0] != region or parsed[1] != account:
        raise _bad(f"The Access Log destination {arn} must be a log group of the API's region "
                   "and account")  # fmt: skip
    if not fmt:
        raise _bad("Access Log format must be specified with the Access Log destination")
    fmt = str(fmt)
    if "\n" in fmt.rstrip("\n"):
        raise _bad("Access Log format must be single line, new line character is allowed only "
                   "at end of the format")  # fmt: skip
    names = set(_VARIABLE.findall(fmt))
    if not names & {"requestId", "extendedRequestId"}:
        raise _bad("Access Log format must contain at least one of $context.requestId or "
                   "$context.extendedRequestId")  # fmt: skip


def _text(value: Any) -> str:
    if value is None or value == "":
        return DASH
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(round(value)))
    return str(value)


_ERRORS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           413: "Request Entity Too Large", 429: "Too Many Requests",
           500: "Internal Server Error", 503: "Service Unavailable"}  # fmt: skip


def _error_message(x: Exchange) -> str | None:
    return _ERRORS.get(x.status) if x.status >= 400 and x.integration_status is None else None


def _request_time(x: Exchange) -> str:
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(x.epoch))


# $context.NAME -> its value in an exchange.
_GETTERS: dict[str, Callable[[Exchange], Any]] = {
    "accountId": lambda x: x.account_id,
    "apiId": lambda x: x.api_id,
    "requestId": lambda x: x.request_id,
    "extendedRequestId": lambda x: x.request_id,
    "awsEndpointRequestId": lambda x: None,
    "customDomain.basePathMatched": lambda x: x.base_path,
    "dataProcessed": lambda x: x.received + x.response_length,
    "domainName": lambda x: x.domain_name,
    "domainPrefix": lambda x: x.domain_prefix,
    "error.message": _error_message,
    "error.messageString": lambda x: f'"{m}"' if (m := _error_message(x)) else None,
    "error.responseType": lambda x: None,
    "httpMethod": lambda x: x.method,
    "identity.sourceIp": lambda x: x.source_ip,
    "identity.userAgent": lambda x: x.user_agent,
    "integration.error": lambda x: x.integration_error,
    "integration.integrationStatus": lambda x: x.integration_status,
    "integration.latency": lambda x: x.integration_ms,
    "integration.requestId": lambda x: None,
    "integration.status": lambda x: x.integration_status,
    "integrationErrorMessage": lambda x: x.integration_error,
    "integrationLatency": lambda x: x.integration_ms,
    "integrationStatus": lambda x: x.integration_status,
    "path": lambda x: x.path,
    "protocol": lambda x: x.protocol,
    "requestTime": _request_time,
    "requestTimeEpoch": lambda x: int(x.epoch * 1000),
    "responseLatency": lambda x: x.latency_ms,
    "responseLength": lambda x: x.response_length,
    "routeKey": lambda x: x.route_key,
    "stage": lambda x: x.stage,
    "status": lambda x: x.status,
    "authorizer.error": lambda x: x.authorizer_error,
}


def _authorizer_value(path: str) -> Callable[[Exchange], Any]:
    """``authorizer.claims.NAME`` (a JWT's claim), ``authorizer.principalId``,
    ``authorizer.NAME`` (a Lambda authorizer's context)."""
    parts = path.split(".")[1:]

    def get(x: Exchange) -> Any:
        value: Any = x.authorizer
        if value is not None and parts[0] == "claims" and "jwt" in value:
            value = value["jwt"]
        elif value is not None and "lambda" in value and parts[0] != "principalId":
            value = value["lambda"]
        for part in parts:
            if not isinstance(value, Mapping):
                return None
            value = value.get(part)
        return None if isinstance(value, Mapping) else value

    return get


class Template:
    """A format compiled once: literal text and value getters, in order."""

    def __init__(self, fmt: str) -> None:
        self.parts: list[str | Callable[[Exchange], Any]] = []
        last = 0
        for m in _VARIABLE.finditer(fmt.rstrip("\n")):
            self.parts.append(fmt[last : m.start()])
            name = m.group(1)
            getter = _GETTERS.get(name)
            if getter is None and name.startswith("authorizer."):
                getter = _authorizer_value(name)
            self.parts.append(getter or (lambda x: None))
            last = m.end()
        self.parts.append(fmt.rstrip("\n")[last:])

    def render(self, x: Exchange) -> str:
        return "".join(p if isinstance(p, str) else _text(p(x)) for p in self.parts)


class AccessLogs:
    """Writes the access log lines of every stage with AccessLogSettings (event loop only)."""

    def __init__(self, logs: LogService | None) -> None:
        self._logs = logs
        self._templates: dict[str, Template] = {}  # format -> compiled (bounded below)
        self._streams: dict[tuple[str, str], str] = {}  # (api, stage) -> stream name
        self._suffix = secrets.token_hex(16)  # this server run's

    def template(self, fmt: str) -> Template:
        found = self._templates.get(fmt)
        if found is None:
            if len(self._templates) > 1024:
                self._templates.clear()
            found = self._templates[fmt] = Template(fmt)
        return found

    def stream(self, api_id: str, stage: str) -> str:
        key = (api_id, stage)
        name = self._streams.get(key)
        if name is None:
            name = self._streams[key] = f"{api_id}_{stage}-{self._suffix}"
        return name

    def write(self, x: Exchange) -> None:
        """One line for ``x`` into its stage's group: appended to the pending batch."""
        settings, logs = x.access_log, self._logs
        if not settings or logs is None:
            return
        parsed = group_of(str(settings.get("DestinationArn") or ""))
        fmt = settings.get("Format")
        if parsed is None or not fmt:
            return
        line = self.template(str(fmt)).render(x)
        ts = int(x.epoch * 1000)
        stream = self.stream(x.api_id, x.stage)
        logs.pending.append(Pending(parsed[0], parsed[2], stream, ts, ts, line))
        logs.flush_soon()
