"""LoggingConfig: merging a request onto a function's, Lambda's refusals, the level filters."""

from __future__ import annotations

import pytest

from shoal.errors import AwsError
from shoal.functions.logging_config import LoggingConfig, merged, output_level

GROUP = "/aws/lambda/fn"


def test_json_defaults_levels_and_text_drops_them() -> None:
    text = LoggingConfig()
    assert text.to_wire(GROUP) == {"LogFormat": "Text", "LogGroup": GROUP}
    json_ = merged(text, {"LogFormat": "JSON"}, GROUP)
    assert json_ == LoggingConfig("JSON", "INFO", "INFO", "")
    assert merged(json_, {"SystemLogLevel": "WARN"}, GROUP).application_log_level == "INFO"
    assert merged(json_, {"LogFormat": "Text"}, GROUP) == LoggingConfig()
    assert merged(text, {"LogGroup": "/custom/group"}, GROUP).log_group == "/custom/group"
    assert merged(text, {"LogGroup": GROUP}, GROUP).log_group == ""


@pytest.mark.parametrize(
    "given", [{"ApplicationLogLevel": "DEBUG"}, {"LogFormat": "Text", "SystemLogLevel": "INFO"}]
)
def test_levels_need_the_json_format(given: dict[str, str]) -> None:
    with pytest.raises(AwsError) as e:
        merged(LoggingConfig(), given, GROUP)
    assert e.value.code == "InvalidParameterValueException"


def test_filters() -> None:
    warn = LoggingConfig("JSON", "WARN", "WARN")
    assert [warn.keeps_application(x) for x in ("TRACE", "INFO", "WARN", "FATAL")] == [
        False, False, True, True,
    ]  # fmt: skip
    assert not warn.keeps_system("INFO")
    assert LoggingConfig().keeps_application("TRACE")  # Text filters nothing
    assert output_level("plain text") == "INFO"
    assert output_level('{"level": "debug", "msg": "x"}') == "DEBUG"
    assert output_level('{"level": "warning"}') == "WARN"
    assert output_level('{"level": 3}') == output_level("{not json") == "INFO"
