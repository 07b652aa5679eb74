"""EFS's validation rules that the service model's shapes cannot express."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from shoal.errors import AwsError

if TYPE_CHECKING:
    from shoal.filesystems.models import FileSystem

MAX_PROVISIONED_MIBPS = 3414.0
MAXIO_ELASTIC = "Elastic throughput mode is not supported with maxIO performance mode"
MAXIO_ONE_ZONE = "One Zone file systems do not support the maxIO performance mode"


def bad_request(message: str) -> AwsError:
    return AwsError("BadRequest", message)


def check_throughput(mode: str, provisioned: float | None) -> None:
    if mode == "provisioned":
        if provisioned is None:
            raise bad_request(
                "ProvisionedThroughputInMibps is required when ThroughputMode is provisioned"
            )
        if provisioned > MAX_PROVISIONED_MIBPS:
            raise AwsError(
                "ThroughputLimitExceeded",
                f"Provisioned throughput can't exceed {MAX_PROVISIONED_MIBPS:g} MiB/s",
            )
    elif provisioned is not None:
        raise bad_request(
            "ProvisionedThroughputInMibps can be set only when ThroughputMode is provisioned"
        )


THROUGHPUT_CHANGE_S = 24 * 3600
TOO_MANY_CHANGES = ("You have reached the maximum number of throughput mode changes or "
                    "provisioned throughput value decreases. Wait until {after} UTC and try "
                    "again.")  # fmt: skip


def check_throughput_change(
    fs: FileSystem, mode: str, provisioned: float | None, now: float
) -> bool:
    """EFS's rule on UpdateFileSystem (User Guide, "Managing file system throughput"; the
    knowledge-center note on ``TooManyRequests``): provisioned throughput may go up at any
    time, but after a change to provisioned throughput, an increase of it, a change of
    throughput mode or a decrease, the file system's throughput mode may not change again, nor
    its provisioned throughput go down, for 24 hours (``TooManyRequests``, 429, saying until
    when). True when this update is one that starts those 24 hours (its time is then
    recorded)."""
    current = fs.provisioned_throughput or 0.0
    wanted = provisioned or 0.0
    restricted = mode != fs.throughput_mode or (mode == "provisioned" and wanted < current)
    increase = mode == "provisioned" == fs.throughput_mode and wanted > current
    last = fs.throughput_changed_at
    if restricted and last is not None and now - last < THROUGHPUT_CHANGE_S:
        after = datetime.datetime.fromtimestamp(last + THROUGHPUT_CHANGE_S, datetime.UTC)
        raise AwsError(
            "TooManyRequests", TOO_MANY_CHANGES.format(after=after.strftime("%Y-%m-%dT%H:%M:%SZ"))
        )
    return restricted or increase


def check_path(path: str) -> None:
    """EFS's rule: absolute, at most four components, no ``.``/``..`` or empty components."""
    if path == "/":
        return
    parts = path.split("/")
    if parts[0] != "" or len(path) > 100:
        raise bad_request(f"RootDirectory Path '{path}' must be an absolute path")
    parts = parts[1:]
    if len(parts) > 4:
        raise bad_request(f"RootDirectory Path '{path}' has more than 4 subdirectories")
    for part in parts:
        if part in ("", ".", "..") or part.startswith("."):
            raise bad_request(f"RootDirectory Path '{path}' has an invalid component '{part}'")
