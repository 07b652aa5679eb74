"""Checks on a function's configuration that the service model cannot express.

The codec already enforces what the botocore model says (types, enums, patterns, the model's
ranges). What is left is where Lambda is stricter than its published model, or where the check
needs the host: memory up to 10240 MB (the model says 32768, for capacity providers Shoal does
not have), timeout up to 900 s, the 4 KB environment, reserved variable names, the file-system
configuration, and which Python runtimes this host has.

Range errors are ``ValidationException`` worded as the codec words them (AWS aggregates them:
"2 validation errors detected: ..."); everything else is ``InvalidParameterValueException``.
"""

from __future__ import annotations

import glob
import json
import os
import re
from collections.abc import Callable, Mapping
from typing import Any

from shoal.errors import AwsError, invalid_parameter

MEMORY_MIN, MEMORY_MAX = 128, 10240
TIMEOUT_MIN, TIMEOUT_MAX = 1, 900
EPHEMERAL_MIN, EPHEMERAL_MAX = 512, 10240
ENVIRONMENT_MAX_BYTES = 4096

# Lambda sets these itself; a function configuration may not (AWS's documented list).
RESERVED_ENVIRONMENT = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
        # TZ is not reserved: the developer guide lists it with LANG, PATH and PYTHONPATH among
        # the variables a function may set.
    }
)

ROLE_PATTERN = r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+"
_ROLE = re.compile(ROLE_PATTERN)
_MOUNT_PATH = re.compile(r"^/mnt/[a-zA-Z0-9-_.]+$")
_ACCESS_POINT_ARN = re.compile(
    r"^arn:aws[a-zA-Z-]*:elasticfilesystem:[a-z]{2}((-gov)|(-iso(b?)))?-[a-z]+-\d:\d{12}:"
    r"access-point/fsap-[a-f0-9]{17}$"
)
_PYTHON = re.compile(r"^python3\.(\d+)$")


def _range_error(value: Any, member: str, low: int, high: int) -> str | None:
    if value < low:
        bound = f"greater than or equal to {low}"
    elif value > high:
        bound = f"less than or equal to {high}"
    else:
        return None
    return (
        f"Value '{value}' at '{member}' failed to satisfy constraint: "
        f"Member must have value {bound}"
    )


def validation_error(errors: list[str]) -> AwsError:
    noun = "error" if len(errors) == 1 else "errors"
    return AwsError(
        "ValidationException",
        f"{len(errors)} validation {noun} detected: " + "; ".join(errors),
        status=400,
    )


def check_config(
    params: Mapping[str, Any],
    *,
    access_point_exists: Callable[[str], bool] | None = None,
    runtimes: Mapping[str, str] | None = None,
) -> None:
    """Check the configuration members present in a Create/UpdateFunctionConfiguration input.

    ``access_point_exists`` is asked about each file-system config's access point when a file
    system service is running; ``runtimes`` (runtime -> interpreter) when Runtime is given.
    """
    errors = [
        e
        for e in (
            "MemorySize" in params
            and _range_error(params["MemorySize"], "memorySize", MEMORY_MIN, MEMORY_MAX),
            "Timeout" in params
            and _range_error(params["Timeout"], "timeout", TIMEOUT_MIN, TIMEOUT_MAX),
            "EphemeralStorage" in params
            and _range_error(
                params["EphemeralStorage"].get("Size", EPHEMERAL_MIN),
                "ephemeralStorage.size",
                EPHEMERAL_MIN,
                EPHEMERAL_MAX,
            ),
        )
        if e
    ]
    if "Role" in params and not _ROLE.fullmatch(params["Role"]):
        errors.append(
            f"Value '{params['Role']}' at 'role' failed to satisfy constraint: "
            f"Member must satisfy regular expression pattern: {ROLE_PATTERN}"
        )
    if errors:
        raise validation_error(errors)
    if "Environment" in params:
        check_environment(params["Environment"].get("Variables") or {})
    if "FileSystemConfigs" in params:
        check_file_systems(params["FileSystemConfigs"], access_point_exists)
    if "Runtime" in params and runtimes is not None:
        check_runtime(params["Runtime"], runtimes)


def check_environment(variables: Mapping[str, str]) -> None:
    reserved = sorted(k for k in variables if k in RESERVED_ENVIRONMENT)
    if reserved:
        raise invalid_parameter(
            "Lambda was unable to configure your environment variables because the environment "
            "variables you have provided contains reserved keys that are currently not supported "
            "for modification. Reserved keys used in this request: " + ", ".join(reserved)
        )
    # AWS measures the compact JSON of the map, in bytes.
    measured = json.dumps(dict(variables), separators=(",", ":"), ensure_ascii=False)
    if len(measured.encode()) > ENVIRONMENT_MAX_BYTES:
        raise invalid_parameter(
            "Lambda was unable to configure your environment variables because the environment "
            "variables you have provided exceeded the 4KB limit. String measured: " + measured
        )


def check_file_systems(
    configs: list[Mapping[str, str]], access_point_exists: Callable[[str], bool] | None
) -> None:
    if len(configs) > 1:
        raise validation_error(
            [
                f"Value '{configs}' at 'fileSystemConfigs' failed to satisfy constraint: "
                "Member must have length less than or equal to 1"
            ]
        )
    for config in configs:
        arn, path = config.get("Arn", ""), config.get("LocalMountPath", "")
        if not _MOUNT_PATH.match(path):
            raise validation_error(
                [
                    f"Value '{path}' at 'fileSystemConfigs.1.member.localMountPath' failed to "
                    "satisfy constraint: Member must satisfy regular expression pattern: "
                    "^/mnt/[a-zA-Z0-9-_.]+$"
                ]
            )
        if not _ACCESS_POINT_ARN.match(arn):
            raise invalid_parameter(
                f"FileSystemConfig Arn {arn} is not a valid EFS access point ARN."
            )
        if access_point_exists is not None and not access_point_exists(arn):
            raise invalid_parameter(
                f"The EFS access point {arn} specified in FileSystemConfigs does not exist."
            )


def check_runtime(runtime: str, runtimes: Mapping[str, str]) -> None:
    if runtime not in runtimes:
        available = ", ".join(sorted(runtimes, key=_runtime_key)) or "none"
        raise invalid_parameter(
            f"The runtime parameter of {runtime} is not supported by this Shoal host. "
            f"Installed runtimes: {available}."
        )


def _runtime_key(runtime: str) -> tuple[int, str]:
    m = _PYTHON.match(runtime)
    return (int(m.group(1)) if m else 0, runtime)


# Where discover_runtimes looks, in order of preference (the first found wins per version).
SEARCH_PATHS = ("/usr/bin", "/usr/local/bin", "/root/.pyenv/versions/*/bin")


def discover_runtimes(search: tuple[str, ...] = SEARCH_PATHS) -> dict[str, str]:
    """``python3.N`` interpreters on this host: runtime name -> interpreter path.

    Only a fallback for when the sandbox does not say which runtimes it can run.
    """
    found: dict[str, str] = {}
    for pattern in search:
        for directory in sorted(glob.glob(pattern)):
            try:
                names = os.listdir(directory)
            except OSError:
                continue
            for name in sorted(names):
                path = os.path.join(directory, name)
                if _PYTHON.match(name) and name not in found and os.access(path, os.X_OK):
                    found[name] = path
    return found


def available_runtimes(sandbox: Any) -> dict[str, str]:
    """The sandbox's own list when it has one, else the interpreters found on the host."""
    runtimes = getattr(sandbox, "runtimes", None)
    if callable(runtimes):
        return dict(runtimes())
    return discover_runtimes()
