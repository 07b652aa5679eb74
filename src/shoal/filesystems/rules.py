"""EFS's validation rules that the service model's shapes cannot express."""

from __future__ import annotations

from shoal.errors import AwsError

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
