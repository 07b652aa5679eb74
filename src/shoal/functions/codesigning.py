"""Code signing configurations, and which function uses which.

Shoal keeps Lambda's code signing configurations (allowed publishers, the policy) and the
function → configuration link that ``PutFunctionCodeSigningConfig`` makes, so deployment tools
(Terraform reads ``GetFunctionCodeSigningConfig`` on every refresh) see what they set. It does
**not** verify signatures: a package is deployed whatever its signature. That is what Lambda does
in ``Warn`` mode when validation fails (deploy, and report), so ``Warn`` is accepted. ``Enforce``
is refused when a configuration is created or updated: Lambda would block every package Shoal
cannot verify, and Shoal can verify none, so a configuration that promised enforcement would
be a silent hole; better the error at the step where the user chose it.

State: ``_configs`` (ARN → :class:`CodeSigningConfig`) and ``_links`` (function name → ARN),
each persisted (kinds ``codesigningconfig`` and ``functioncodesigning``) before it changes in
memory. Event loop only. A function's link goes when the function goes (a subscription to the
function service).
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from shoal.errors import AwsError, conflict, invalid_parameter, not_found
from shoal.functions import arns
from shoal.functions.record import now_iso

if TYPE_CHECKING:
    from shoal.core import Shoal

WARN, ENFORCE = "Warn", "Enforce"
_ID_CHARS = string.ascii_lowercase + string.digits


@dataclass(frozen=True)
class CodeSigningConfig:
    id: str  # csc- and 17 characters of [a-z0-9]
    arn: str
    publishers: tuple[str, ...]  # signing profile version ARNs
    policy: str = WARN  # UntrustedArtifactOnDeployment
    description: str = ""
    last_modified: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)

    def to_doc(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["tags"] = dict(self.tags)
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> CodeSigningConfig:
        return cls(**{**doc, "publishers": tuple(doc["publishers"])})


def _policy(params: Mapping[str, Any], default: str) -> str:
    policy: str = (params.get("CodeSigningPolicies") or {}).get(
        "UntrustedArtifactOnDeployment", default
    )
    if policy == ENFORCE:
        raise invalid_parameter(
            "Shoal does not verify code signatures, so it cannot enforce them: "
            "UntrustedArtifactOnDeployment must be Warn (packages are deployed unverified)."
        )
    return policy


class CodeSigningService:
    CONFIGS, LINKS = "codesigningconfig", "functioncodesigning"

    def __init__(self, shoal: Shoal) -> None:
        self.shoal = shoal
        self.store = shoal.store
        configs = self.store.load(self.CONFIGS)
        self._configs = {arn: CodeSigningConfig.from_doc(doc) for arn, doc in configs.items()}
        # Function (unqualified ARN) -> the configuration's ARN. A link saved before regions
        # is keyed by the function's name: it is the default region's function.
        self._links: dict[str, str] = {}
        settings = shoal.settings
        for key, doc in self.store.load(self.LINKS).items():
            function = arns.in_default_region(key, settings.region, settings.account_id)
            if function != key:
                with self.store.transaction():
                    self.store.put(self.LINKS, function, doc)
                    self.store.delete(self.LINKS, key)
            self._links[function] = doc["arn"]

    async def start(self) -> None:
        functions = getattr(self.shoal, "functions", None)
        if functions is not None:
            functions.subscribe(self._function_changed)
            for name in list(self._links):  # deleted while another version of Shoal ran
                self._function_changed(name)

    async def stop(self) -> None:
        pass

    # ------------------------------------------------------------------ configurations

    def create(self, region: str, params: Mapping[str, Any]) -> CodeSigningConfig:
        settings = self.shoal.settings
        csc_id = "csc-" + "".join(secrets.choice(_ID_CHARS) for _ in range(17))
        config = CodeSigningConfig(
            id=csc_id,
            arn=f"arn:aws:lambda:{region}:{settings.account_id}:code-signing-config:{csc_id}",
            publishers=tuple(params["AllowedPublishers"]["SigningProfileVersionArns"]),
            policy=_policy(params, WARN),
            description=params.get("Description", ""),
            last_modified=now_iso(),
            tags=dict(params.get("Tags") or {}),
        )
        self._save(config)
        return config

    def get(self, arn: str, region: str | None = None) -> CodeSigningConfig:
        """The configuration ``arn`` names (in ``region``, when given: its ARN says where)."""
        config = self._configs.get(arn)
        if config is None or (region is not None and arn.split(":")[3] != region):
            raise not_found(f"The Lambda code signing configuration {arn} can not be found.")
        return config

    def all(self, region: str) -> list[CodeSigningConfig]:
        return sorted(
            (c for c in self._configs.values() if c.arn.split(":")[3] == region),
            key=lambda c: c.id,
        )

    def update(self, arn: str, params: Mapping[str, Any]) -> CodeSigningConfig:
        config = self.get(arn)
        changes: dict[str, Any] = {"last_modified": now_iso()}
        if "AllowedPublishers" in params:
            changes["publishers"] = tuple(params["AllowedPublishers"]["SigningProfileVersionArns"])
        if "CodeSigningPolicies" in params:
            changes["policy"] = _policy(params, config.policy)
        if "Description" in params:
            changes["description"] = params["Description"]
        updated = replace(config, **changes)
        self._save(updated)
        return updated

    def delete(self, arn: str) -> None:
        self.get(arn)
        users = self.functions_using(arn)
        if users:
            raise conflict(
                "The code signing configuration cannot be deleted because it is used by the "
                f"following functions: {', '.join(users)}."
            )
        self.store.delete(self.CONFIGS, arn)
        del self._configs[arn]

    def _save(self, config: CodeSigningConfig) -> None:
        self.store.put(self.CONFIGS, config.arn, config.to_doc())
        self._configs[config.arn] = config

    # ------------------------------------------------------------------ function links

    def check_exists(self, arn: str) -> None:
        """CodeSigningConfigNotFoundException, worded as Lambda, unless ``arn`` exists."""
        if arn not in self._configs:
            raise AwsError(
                "CodeSigningConfigNotFoundException",
                "The code signing configuration cannot be found. Check that the provided "
                f"configuration is not deleted: {arn}.",
            )

    def config_of(self, function: str) -> str | None:
        return self._links.get(function)

    def functions_using(self, arn: str) -> list[str]:
        return sorted(name for name, linked in self._links.items() if linked == arn)

    def link(self, function: str, arn: str | None) -> None:
        """Give ``function`` the configuration ``arn`` (None: take it away)."""
        if arn is None:
            if function in self._links:
                self.store.delete(self.LINKS, function)
                del self._links[function]
            return
        self.check_exists(arn)
        self.store.put(self.LINKS, function, {"arn": arn})
        self._links[function] = arn

    def _function_changed(self, name: str) -> None:
        if name in self._links and self.shoal.functions.get(name) is None:
            self.link(name, None)
