"""Immutable function models.

A :class:`FunctionVersion` is everything needed to run one version of a function: ``$LATEST``
is replaced by a new object on every update (with a new ``revision_id``), a published version
never changes. The invoker keys its environment pools on ``(name, version, revision_id)``, so an
update naturally retires the old environments.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from shoal.functions.logging_config import LoggingConfig

LATEST = "$LATEST"


@dataclass(frozen=True)
class FileSystemConfig:
    arn: str  # access point ARN
    local_mount_path: str  # "/mnt/..."


@dataclass(frozen=True)
class LayerRef:
    """One of a function's layers: what GetFunctionConfiguration shows (Arn, CodeSize) and
    what its /opt is made of (the package, and its unzipped size for the 250 MB quota)."""

    arn: str  # the layer version's ARN
    code_size: int
    hex: str
    unzipped_size: int


@dataclass(frozen=True)
class VpcConfig:
    """A function's VpcConfig, checked against the EC2 model when set (``vpc_id`` is the
    subnets' VPC; empty lists and ``""`` once a VPC configuration was removed)."""

    subnet_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    vpc_id: str = ""
    ipv6_allowed_for_dual_stack: bool = False


@dataclass(frozen=True)
class FunctionVersion:
    name: str
    version: str  # "$LATEST" or "1", "2"...
    function_arn: str  # unqualified: arn:aws:lambda:REGION:ACCOUNT:function:NAME
    runtime: str  # "python3.11"
    handler: str
    role: str
    code_dir: str  # host directory with the unpacked code (read-only to environments)
    code_sha256: str  # base64 of the zip's SHA-256, as AWS reports it
    code_size: int
    memory_size: int = 128
    timeout: int = 3
    ephemeral_storage: int = 512
    environment: Mapping[str, str] = field(default_factory=dict)
    description: str = ""
    last_modified: str = ""  # "2024-01-01T00:00:00.000+0000"
    revision_id: str = ""
    state: str = "Active"  # Pending | Active | Inactive | Failed
    state_reason: str | None = None
    state_reason_code: str | None = None
    last_update_status: str = "Successful"  # InProgress | Successful | Failed
    last_update_status_reason: str | None = None
    last_update_status_reason_code: str | None = None
    file_system_configs: tuple[FileSystemConfig, ...] = ()
    # Shoal extension: new environments are forked from one whose init already ran.
    snapshot_start: bool = False
    architectures: tuple[str, ...] = ("x86_64",)
    layers: tuple[LayerRef, ...] = ()  # in order: later layers over earlier ones at /opt
    tracing_mode: str = "PassThrough"  # TracingConfig.Mode, kept (Shoal sends no traces)
    vpc_config: VpcConfig | None = None
    logging: LoggingConfig = field(default_factory=LoggingConfig)

    @property
    def qualified_arn(self) -> str:
        return f"{self.function_arn}:{self.version}"

    @property
    def region(self) -> str:
        """The region the function is in: its ARN's (a version made before regions has the
        default region's ARN, so it stays there)."""
        return self.function_arn.split(":")[3]

    @property
    def log_group(self) -> str:
        """LoggingConfig.LogGroup: the function's own, else ``/aws/lambda/NAME``."""
        return self.logging.log_group or self.default_log_group

    @property
    def default_log_group(self) -> str:
        return f"/aws/lambda/{self.name}"

    def to_doc(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["environment"] = dict(self.environment)
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> FunctionVersion:
        doc = dict(doc)
        doc["file_system_configs"] = tuple(
            FileSystemConfig(**c) for c in doc.get("file_system_configs", ())
        )
        doc["architectures"] = tuple(doc.get("architectures", ("x86_64",)))
        doc["layers"] = tuple(LayerRef(**r) for r in doc.get("layers", ()))
        vpc = doc.get("vpc_config")
        if vpc is not None:
            doc["vpc_config"] = VpcConfig(
                tuple(vpc["subnet_ids"]), tuple(vpc["security_group_ids"]), vpc["vpc_id"],
                vpc["ipv6_allowed_for_dual_stack"],
            )  # fmt: skip
        if "logging" in doc:
            doc["logging"] = LoggingConfig(**doc["logging"])
        return cls(**doc)


@dataclass(frozen=True)
class Alias:
    """A named pointer to a version, optionally sending a share of traffic to a second one."""

    name: str
    function_name: str
    function_version: str  # "$LATEST" or "1", "2"...
    alias_arn: str  # arn:aws:lambda:REGION:ACCOUNT:function:NAME:ALIAS
    description: str = ""
    # AdditionalVersionWeights: version -> share of invocations (0.0-1.0) it receives.
    routing: Mapping[str, float] = field(default_factory=dict)
    revision_id: str = ""

    def to_doc(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["routing"] = dict(self.routing)
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Alias:
        return cls(**doc)
