"""Configuration checks that the service model cannot express."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from shoal.errors import AwsError
from shoal.functions import validation

AP = "arn:aws:elasticfilesystem:us-east-1:123456789012:access-point/fsap-0123456789abcdef0"


def _error(params: dict, **kwargs) -> AwsError:  # type: ignore[no-untyped-def]
    with pytest.raises(AwsError) as e:
        validation.check_config(params, **kwargs)
    return e.value


def test_valid_configuration_passes() -> None:
    validation.check_config(
        {
            "MemorySize": 10240,
            "Timeout": 900,
            "EphemeralStorage": {"Size": 10240},
            "Role": "arn:aws:iam::123456789012:role/service-role/my-role",
            "Environment": {"Variables": {"PYTHONPATH": "/mnt/efs/lib", "LANG": "C"}},
            "FileSystemConfigs": [{"Arn": AP, "LocalMountPath": "/mnt/efs"}],
            "Runtime": "python3.11",
        },
        access_point_exists=lambda arn: arn == AP,
        runtimes={"python3.11": "/usr/bin/python3.11"},
    )


@pytest.mark.parametrize(
    ("params", "member", "bound"),
    [
        ({"MemorySize": 10241}, "memorySize", "less than or equal to 10240"),
        ({"MemorySize": 127}, "memorySize", "greater than or equal to 128"),
        ({"Timeout": 901}, "timeout", "less than or equal to 900"),
        ({"Timeout": 0}, "timeout", "greater than or equal to 1"),
        (
            {"EphemeralStorage": {"Size": 10241}},
            "ephemeralStorage.size",
            "less than or equal to 10240",
        ),
    ],
)
def test_ranges_are_validation_errors(params: dict, member: str, bound: str) -> None:
    e = _error(params)
    assert e.code == "ValidationException"
    assert e.status == 400
    assert e.message.startswith("1 validation error detected: ")
    assert f"at '{member}'" in e.message
    assert f"Member must have value {bound}" in e.message


def test_several_range_errors_are_counted_together() -> None:
    e = _error({"MemorySize": 99999, "Timeout": 1000})
    assert e.message.startswith("2 validation errors detected: ")


def test_role_must_be_an_iam_role_arn() -> None:
    e = _error({"Role": "arn:aws:iam::123456789012:user/bob"})
    assert e.code == "ValidationException"
    assert "at 'role'" in e.message


def test_reserved_environment_names_are_refused() -> None:
    e = _error({"Environment": {"Variables": {"AWS_REGION": "x", "_HANDLER": "y", "OK_NAME": "z"}}})
    assert e.code == "InvalidParameterValueException"
    assert e.message.endswith("Reserved keys used in this request: AWS_REGION, _HANDLER")


def test_environment_over_4kb_is_refused_with_the_measured_string() -> None:
    variables = {"BIG": "x" * 4090}
    e = _error({"Environment": {"Variables": variables}})
    assert e.code == "InvalidParameterValueException"
    assert "exceeded the 4KB limit. String measured: " in e.message
    assert e.message.endswith('{"BIG":"' + "x" * 4090 + '"}')
    # Exactly at the limit is accepted: {"BIG":"..."} is 10 bytes of framing.
    validation.check_config({"Environment": {"Variables": {"BIG": "x" * 4086}}})


def test_file_system_configs() -> None:
    e = _error({"FileSystemConfigs": [{"Arn": AP, "LocalMountPath": "/mnt/a"}] * 2})
    assert e.code == "ValidationException"
    e = _error({"FileSystemConfigs": [{"Arn": AP, "LocalMountPath": "/tmp/efs"}]})
    assert e.code == "ValidationException" and "localMountPath" in e.message
    e = _error({"FileSystemConfigs": [{"Arn": "arn:aws:s3:::b", "LocalMountPath": "/mnt/a"}]})
    assert e.code == "InvalidParameterValueException"
    e = _error(
        {"FileSystemConfigs": [{"Arn": AP, "LocalMountPath": "/mnt/a"}]},
        access_point_exists=lambda arn: False,
    )
    assert e.code == "InvalidParameterValueException" and AP in e.message
    # Without a file system service the shape alone is checked.
    validation.check_config({"FileSystemConfigs": [{"Arn": AP, "LocalMountPath": "/mnt/a"}]})


def test_missing_runtime_names_the_installed_ones() -> None:
    e = _error(
        {"Runtime": "python3.9"},
        runtimes={"python3.12": "/x/python3.12", "python3.10": "/x/python3.10"},
    )
    assert e.code == "InvalidParameterValueException"
    assert "python3.9" in e.message
    assert "python3.10, python3.12" in e.message


def test_discover_runtimes_finds_executable_python3_interpreters(tmp_path: Path) -> None:
    bins = [tmp_path / "a" / "bin", tmp_path / "b" / "bin"]
    for d in bins:
        d.mkdir(parents=True)
    for path in (bins[0] / "python3.12", bins[1] / "python3.12", bins[1] / "python3.10"):
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)
    (bins[1] / "python3.13").write_text("not executable")
    (bins[1] / "python3").write_text("#!/bin/sh\n")
    os.chmod(bins[1] / "python3", stat.S_IRWXU)
    found = validation.discover_runtimes((str(tmp_path / "*" / "bin"),))
    assert found == {
        "python3.12": str(bins[0] / "python3.12"),
        "python3.10": str(bins[1] / "python3.10"),
    }


def test_available_runtimes_prefers_the_sandbox() -> None:
    class Sandbox:
        def runtimes(self) -> dict[str, str]:
            return {"python3.99": "/opt/python3.99"}

    assert validation.available_runtimes(Sandbox()) == {"python3.99": "/opt/python3.99"}
    assert validation.available_runtimes(None) == validation.discover_runtimes()
