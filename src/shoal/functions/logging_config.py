"""A function's LoggingConfig: its log format, its level filters and its log group.

CreateFunction and UpdateFunctionConfiguration merge what they are given onto what the function
has (an update naming only ``ApplicationLogLevel`` keeps the format), as Lambda does: switching
to ``JSON`` sets both levels to ``INFO`` unless given, switching to ``Text`` drops them, and a
level with the ``Text`` format is refused. The model has already checked the enums and the log
group's pattern; Lambda's wording of the cross-field refusal is not documented, so it is the
one other emulators answer with (InvalidParameterValueException).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shoal.errors import invalid_parameter

JSON = "JSON"
TEXT = "Text"
TEXT_LEVELS_REFUSED = (
    "ApplicationLogLevel and SystemLogLevel can only be set for functions configured to use "
    "JSON log format."
)

# ApplicationLogLevel / SystemLogLevel -> how many levels are below it (a record is kept when
# its level's rank is at least the setting's).
APPLICATION_RANK = {"TRACE": 0, "DEBUG": 1, "INFO": 2, "WARN": 3, "ERROR": 4, "FATAL": 5}
SYSTEM_RANK = {"DEBUG": 0, "INFO": 1, "WARN": 2}


@dataclass(frozen=True)
class LoggingConfig:
    log_format: str = TEXT
    application_log_level: str = ""  # "" with Text
    system_log_level: str = ""
    log_group: str = ""  # "" = /aws/lambda/NAME

    @property
    def json(self) -> bool:
        return self.log_format == JSON

    def to_wire(self, default_group: str) -> dict[str, Any]:
        out: dict[str, Any] = {"LogFormat": self.log_format}
        if self.json:
            out["ApplicationLogLevel"] = self.application_log_level
            out["SystemLogLevel"] = self.system_log_level
        out["LogGroup"] = self.log_group or default_group
        return out

    def keeps_application(self, level: str) -> bool:
        """Whether a function's record at ``level`` is logged (always, with Text)."""
        if not self.json:
            return True
        rank = APPLICATION_RANK.get(level, APPLICATION_RANK["INFO"])
        return rank >= APPLICATION_RANK.get(self.application_log_level, 2)

    def keeps_system(self, level: str) -> bool:
        if not self.json:
            return True
        return SYSTEM_RANK[level] >= SYSTEM_RANK.get(self.system_log_level, 1)


def merged(current: LoggingConfig, given: Mapping[str, Any], default_group: str) -> LoggingConfig:
    """``current`` with the request's LoggingConfig applied (raises for a level with Text)."""
    log_format = given.get("LogFormat") or current.log_format
    app = given.get("ApplicationLogLevel")
    system = given.get("SystemLogLevel")
    if log_format != JSON:
        if app or system:
            raise invalid_parameter(TEXT_LEVELS_REFUSED)
        app_level = system_level = ""
    else:
        app_level = app or current.application_log_level or "INFO"
        system_level = system or current.system_log_level or "INFO"
    group = given.get("LogGroup", current.log_group or "")
    if group == default_group:
        group = ""
    return LoggingConfig(log_format, app_level, system_level, group)


# A printed line's "level" value -> Lambda's level (logging's names too).
_LINE_LEVELS = {
    **{name: name for name in APPLICATION_RANK},
    "WARNING": "WARN",
    "CRITICAL": "FATAL",
}


def output_level(line: str) -> str:
    """The level Lambda gives a line a JSON-format function printed: a JSON object's
    ``"level"``, else INFO (the developer guide's log-level filtering for other logging
    methods: an invalid or missing level is INFO)."""
    if not line.startswith("{"):
        return "INFO"
    try:
        doc = json.loads(line)
    except ValueError:
        return "INFO"
    level = doc.get("level") if isinstance(doc, dict) else None
    return _LINE_LEVELS.get(level.upper(), "INFO") if isinstance(level, str) else "INFO"
