"""EFS's validation rules that the service model's shapes cannot express."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from shoal.errors import AwsError

if TYPE_CHECKING:
    from shoal.filesystems.models import FileSystem

MAX_PROVISIONED_MIBPS = 3414.0
MAXIO_ELASTIC = "Elastic throughput mode is not supported with maxIO performance mode"


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


def check_throughput_change(
    fs: FileSystem, mode: str, provisioned: float | None, now: float
) -> bool:
    """EFS's rule on UpdateFileSystem: provisioned throughput may go up at any time, but a
    change of throughput mode or a decrease of provisioned throughput is allowed only when the
    last one was at least 24 hours ago (``TooManyRequests``, 429, otherwise). True when this
    update is such a change (its time is then recorded)."""
    restricted = mode != fs.throughput_mode or (
        mode == "provisioned" and (provisioned or 0.0) < (fs.provisioned_throughput or 0.0)
    )
    last = fs.throughput_changed_at
    if restricted and last is not None and now - last < THROUGHPUT_CHANGE_S:
        after = datetime.datetime.fromtimestamp(last + THROUGHPUT_CHANGE_S, datetime.UTC)
        raise AwsError(
            "TooManyRequests",
            "You can change the throughput mode or decrease the provisioned throughput of "
            f"file system '{fs.id}' once every 24 hours. Try again after "
            f"{after.strftime('%Y-%m-%dT%H:%M:%SZ')}.",
        )
    return restricted


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
