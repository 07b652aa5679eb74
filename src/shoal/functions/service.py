"""The function service: functions, their versions, aliases and tags, and their life cycle.

State lives in memory (``_functions``: function name -> :class:`_Function`) and is written
through to the store, one document per function (kind ``function``), so a restart reloads
everything. Every mutation runs on the event loop and holds no ``await`` between its checks
and its changes, so no lock is needed; the only awaits (checking and unpacking a zip) happen
before a mutation re-checks what it relies on.

Life cycle, as Lambda's: CreateFunction answers ``State: Pending`` and a background task
unpacks the package, then makes the function ``Active``; an update answers
``LastUpdateStatus: InProgress`` and its task makes it ``Successful`` (or ``Failed``). While a
function is Pending or InProgress, any other change is refused with ResourceConflictException.
During an update the invoker keeps running the configuration from before it
(:meth:`FunctionService.resolve_for_invoke`), as Lambda does.

Callbacks given to :meth:`FunctionService.subscribe` are called with the function's name after
every change, including deletion and state transitions.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from shoal.errors import AwsError, conflict, invalid_parameter, not_found
from shoal.functions import arns, validation
from shoal.functions.code import CodeStore, InvalidZip, Package, inspect
from shoal.functions.models import LATEST, Alias, FileSystemConfig, FunctionVersion

if TYPE_CHECKING:
    from shoal.core import Shoal

log = logging.getLogger("shoal.functions")

# Fields that make two configurations "the same" for PublishVersion: everything but identity,
# timestamps and state, and the description (PublishVersion sets the version's own).
_VOLATILE = {
    "version",
    "description",
    "last_modified",
    "revision_id",
    "state",
    "state_reason",
    "state_reason_code",
    "last_update_status",
    "last_update_status_reason",
    "last_update_status_reason_code",
}


def now_iso() -> str:
    """Lambda's LastModified format: ``2024-01-31T12:00:00.000+0000``."""
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}+0000"


def _revision() -> str:
    return str(uuid.uuid4())


def _fingerprint(fv: FunctionVersion) -> dict[str, Any]:
    return {k: v for k, v in fv.to_doc().items() if k not in _VOLATILE}


def in_progress(fv: FunctionVersion) -> AwsError:
    if fv.state == "Pending":
        return conflict(
            "The operation cannot be performed at this time. The function is currently in the "
            "following state: Pending"
        )
    return conflict(
        "The operation cannot be performed at this time. An update is in progress for "
        f"resource: {fv.function_arn}"
    )


@dataclass
class _Function:
    """One function's mutable record, owned by the service (event loop only)."""

    latest: FunctionVersion
    versions: dict[str, FunctionVersion] = field(default_factory=dict)  # "1", "2"... published
    aliases: dict[str, Alias] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    next_version: int = 1  # Lambda never reuses a version number, even after deletion
    # $LATEST as it was before the update in progress: what invocations run meanwhile.
    previous: FunctionVersion | None = None
    # ReservedConcurrentExecutions (PutFunctionConcurrency); None when not reserved.
    reserved: int | None = None

    def to_doc(self) -> dict[str, Any]:
        return {
            "latest": self.latest.to_doc(),
            "versions": [v.to_doc() for v in self.versions.values()],
            "aliases": [a.to_doc() for a in self.aliases.values()],
            "tags": self.tags,
            "next_version": self.next_version,
            "previous": self.previous.to_doc() if self.previous else None,
            "reserved": self.reserved,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> _Function:
        versions = [FunctionVersion.from_doc(v) for v in doc.get("versions", ())]
        aliases = [Alias.from_doc(a) for a in doc.get("aliases", ())]
        previous = doc.get("previous")
        return cls(
            latest=FunctionVersion.from_doc(doc["latest"]),
            versions={v.version: v for v in versions},
            aliases={a.name: a for a in aliases},
            tags=dict(doc.get("tags", {})),
            next_version=int(doc.get("next_version", 1)),
            previous=FunctionVersion.from_doc(previous) if previous else None,
            reserved=doc.get("reserved"),
        )

    def busy(self) -> bool:
        return self.latest.state == "Pending" or self.latest.last_update_status == "InProgress"


class FunctionService:
    KIND = "function"

    def __init__(self, shoal: Shoal) -> None:
        self.shoal = shoal
        self.settings = shoal.settings
        self.code = CodeStore(shoal.settings.code_dir)
        self._functions: dict[str, _Function] = {}
        self._subscribers: list[Callable[[str], None]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        shoal.http.mount("/shoal/code/", self.code.download_app())

    # ------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        for name, doc in self.shoal.store.load(self.KIND).items():
            fn = _Function.from_doc(doc)
            self._functions[name] = fn
            if fn.busy() or any(v.state == "Pending" for v in fn.versions.values()):
                self._settle_later(name)  # interrupted by a stop: finish it now

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # ------------------------------------------------------------------ reads (the invoker's)

    def subscribe(self, callback: Callable[[str], None]) -> None:
        self._subscribers.append(callback)

    def get(self, name: str) -> FunctionVersion | None:
        """The function's $LATEST, or None if there is no such function."""
        fn = self._functions.get(name)
        return fn.latest if fn else None

    def all_versions(self) -> list[FunctionVersion]:
        out: list[FunctionVersion] = []
        for fn in self._functions.values():
            out.append(fn.latest)
            out.extend(fn.versions.values())
        return out

    def names(self) -> list[str]:
        return sorted(self._functions)

    def resolve(self, name_or_arn: str, qualifier: str | None = None) -> FunctionVersion:
        """The version a FunctionName (name, ARN or partial ARN) and Qualifier designate.

        An alias resolves to its primary version. Raises ResourceNotFoundException worded as
        Lambda, or InvalidParameterValueException for conflicting qualifiers.
        """
        fn, q = self._lookup(name_or_arn, qualifier)
        if q is None or q == LATEST:
            return fn.latest
        if q in fn.versions:
            return fn.versions[q]
        alias = fn.aliases.get(q)
        if alias is None:
            raise not_found(f"Function not found: {fn.latest.function_arn}:{q}")
        return self._version(fn, alias.function_version)

    def resolve_for_invoke(self, name_or_arn: str, qualifier: str | None = None) -> FunctionVersion:
        """What an invocation runs: like :meth:`resolve`, but follows an alias's weighted
        routing, refuses a function that is not Active, and during an update returns the
        configuration from before it."""
        fn, q = self._lookup(name_or_arn, qualifier)
        alias = fn.aliases.get(q) if q else None
        if alias is not None:
            target = alias.function_version
            draw = random.random()
            for version, weight in alias.routing.items():
                if draw < weight:
                    target = version
                    break
                draw -= weight
            fv = self._version(fn, target)
        else:
            fv = self.resolve(name_or_arn, qualifier)
        if fv.version == LATEST and fv.last_update_status != "Successful" and fn.previous:
            return fn.previous
        if fv.state != "Active":
            raise conflict(
                "The operation cannot be performed at this time. The function is currently in "
                f"the following state: {fv.state}"
            )
        return fv

    def function(self, name_or_arn: str) -> tuple[str, _Function]:
        """The record of an unqualified function reference."""
        fn, _ = self._lookup(name_or_arn, None)
        return fn.latest.name, fn

    def versions(self, name_or_arn: str) -> list[FunctionVersion]:
        """$LATEST then the published versions in order, as ListVersionsByFunction lists them."""
        _, fn = self.function(name_or_arn)
        return [fn.latest, *sorted(fn.versions.values(), key=lambda v: int(v.version))]

    def aliases(self, name_or_arn: str) -> list[Alias]:
        _, fn = self.function(name_or_arn)
        return sorted(fn.aliases.values(), key=lambda a: a.name)

    def alias(self, name_or_arn: str, alias: str) -> Alias:
        _, fn = self.function(name_or_arn)
        found = fn.aliases.get(alias)
        if found is None:
            raise not_found(f"Cannot find alias arn: {fn.latest.function_arn}:{alias}")
        return found

    def tags(self, name_or_arn: str) -> dict[str, str]:
        return dict(self._tag_target(name_or_arn).tags)

    def _lookup(self, name_or_arn: str, qualifier: str | None) -> tuple[_Function, str | None]:
        ref = arns.parse(name_or_arn)
        arns.check_location(ref, self.settings.region, self.settings.account_id)
        q = arns.merge_qualifier(ref, qualifier)
        fn = self._functions.get(ref.name)
        if fn is None:
            raise not_found(f"Function not found: {self._arn(ref.name, q)}")
        return fn, q

    def _version(self, fn: _Function, version: str) -> FunctionVersion:
        if version == LATEST:
            return fn.latest
        if version not in fn.versions:
            raise not_found(f"Function not found: {fn.latest.function_arn}:{version}")
        return fn.versions[version]

    def _arn(self, name: str, qualifier: str | None = None) -> str:
        return arns.function_arn(self.settings.region, self.settings.account_id, name, qualifier)

    # ------------------------------------------------------------------ functions

    def _check(self, params: Mapping[str, Any]) -> None:
        filesystems = getattr(self.shoal, "filesystems", None)
        lookup = getattr(filesystems, "access_point_by_arn", None)
        validation.check_config(
            params,
            access_point_exists=(lambda arn: lookup(arn) is not None) if lookup else None,
            runtimes=validation.available_runtimes(getattr(self.shoal, "sandbox", None))
            if "Runtime" in params
            else None,
        )
        if params.get("Layers"):
            raise invalid_parameter(
                "Shoal does not support layers; include dependencies in the "
                "package or on a file system."
            )

    async def _save_package(self, code: Mapping[str, Any]) -> Package:
        if "ZipFile" not in code:
            if any(k in code for k in ("S3Bucket", "S3Key", "ImageUri")):
                raise invalid_parameter(
                    "Shoal accepts function code only as a .zip file "
                    "(Code.ZipFile); S3 and image locations are not supported."
                )
            raise invalid_parameter("Please provide a source for function code.")
        try:
            return await asyncio.to_thread(self.code.save, code["ZipFile"])
        except InvalidZip as e:
            raise invalid_parameter(str(e)) from None

    async def create(self, params: Mapping[str, Any]) -> FunctionVersion:
        """CreateFunction; ``params`` are its input members. Returns the Pending configuration
        ($LATEST, or version 1 with Publish)."""
        ref = arns.parse(params["FunctionName"])
        arns.check_location(ref, self.settings.region, self.settings.account_id)
        if ref.qualifier:
            arns.check_new_name(f"{ref.name}:{ref.qualifier}")
        arns.check_new_name(ref.name)
        name = ref.name
        if name in self._functions:
            raise conflict(f"Function already exist: {name}")
        if params.get("PackageType", "Zip") != "Zip":
            raise invalid_parameter(
                "Shoal runs .zip packages only; PackageType Image is not supported."
            )
        if not params.get("Runtime") or not params.get("Handler"):
            raise invalid_parameter(
                "Runtime and Handler are mandatory parameters for functions "
                "created with deployment packages."
            )
        self._check(params)
        package = await self._save_package(params["Code"])
        if name in self._functions:  # created while we checked the zip
            raise conflict(f"Function already exist: {name}")
        latest = self._apply(
            FunctionVersion(
                name=name,
                version=LATEST,
                function_arn=self._arn(name),
                runtime=params["Runtime"],
                handler=params["Handler"],
                role=params["Role"],
                code_dir=str(self.code.tree(package.hex)),
                code_sha256=package.sha256,
                code_size=package.size,
            ),
            params,
        )
        latest = replace(
            latest,
            state="Pending",
            state_reason="The function is being created.",
            state_reason_code="Creating",
            last_update_status="InProgress",
        )
        fn = _Function(latest=latest, tags=dict(params.get("Tags") or {}))
        self._functions[name] = fn
        result = self._publish(fn, None) if params.get("Publish") else latest
        self._changed(name)
        self._settle_later(name)
        return result

    def _apply(self, fv: FunctionVersion, params: Mapping[str, Any]) -> FunctionVersion:
        """``fv`` with the configuration members of ``params`` applied, a new revision."""
        changes: dict[str, Any] = {"last_modified": now_iso(), "revision_id": _revision()}
        simple = {
            "Runtime": "runtime",
            "Handler": "handler",
            "Role": "role",
            "Description": "description",
            "Timeout": "timeout",
            "MemorySize": "memory_size",
        }
        for member, attr in simple.items():
            if member in params:
                changes[attr] = params[member]
        if "Environment" in params:
            changes["environment"] = dict(params["Environment"].get("Variables") or {})
        if "EphemeralStorage" in params:
            changes["ephemeral_storage"] = params["EphemeralStorage"]["Size"]
        if "FileSystemConfigs" in params:
            changes["file_system_configs"] = tuple(
                FileSystemConfig(arn=c["Arn"], local_mount_path=c["LocalMountPath"])
                for c in params["FileSystemConfigs"]
            )
        if params.get("Architectures"):
            changes["architectures"] = tuple(params["Architectures"])
        if "SnapStart" in params:
            # Lambda's SnapStart setting turns on Shoal's snapshot starts (published versions
            # and, beyond Lambda, $LATEST too).
            changes["snapshot_start"] = params["SnapStart"].get("ApplyOn") == "PublishedVersions"
        return replace(fv, **changes)

    def _begin_update(self, name_or_arn: str, revision_id: str | None) -> _Function:
        ref = arns.parse(name_or_arn)
        if ref.qualifier:
            raise invalid_parameter(
                "Updates apply to $LATEST; the function name must not carry "
                f"a qualifier ({ref.qualifier})."
            )
        _, fn = self.function(name_or_arn)
        if revision_id and revision_id != fn.latest.revision_id:
            raise AwsError(
                "PreconditionFailedException",
                "The Revision Id provided does not match the latest Revision Id. Call "
                "the GetFunction/GetAlias API to retrieve the latest Revision Id",
            )
        if fn.busy():
            raise in_progress(fn.latest)
        return fn

    def _start_update(self, fn: _Function, new: FunctionVersion, publish: bool) -> FunctionVersion:
        fn.previous = fn.latest
        fn.latest = replace(
            new,
            last_update_status="InProgress",
            last_update_status_reason="The function is being updated.",
            last_update_status_reason_code=None,
        )
        result = self._publish(fn, None) if publish else fn.latest
        self._changed(fn.latest.name)
        self._settle_later(fn.latest.name)
        return result

    async def update_code(self, params: Mapping[str, Any]) -> FunctionVersion:
        fn = self._begin_update(params["FunctionName"], params.get("RevisionId"))
        code = {k: params[k] for k in ("ZipFile", "S3Bucket", "S3Key", "ImageUri") if k in params}
        if params.get("DryRun"):
            if "ZipFile" not in code:
                await self._save_package(code)  # raises the right error
            try:
                package = await asyncio.to_thread(inspect, code["ZipFile"])
            except InvalidZip as e:
                raise invalid_parameter(str(e)) from None
            return replace(fn.latest, code_sha256=package.sha256, code_size=package.size)
        package = await self._save_package(code)
        fn = self._begin_update(params["FunctionName"], params.get("RevisionId"))
        new = self._apply(fn.latest, {"Architectures": params.get("Architectures")})
        new = replace(
            new,
            code_dir=str(self.code.tree(package.hex)),
            code_sha256=package.sha256,
            code_size=package.size,
        )
        return self._start_update(fn, new, bool(params.get("Publish")))

    async def update_configuration(self, params: Mapping[str, Any]) -> FunctionVersion:
        fn = self._begin_update(params["FunctionName"], params.get("RevisionId"))
        self._check(params)
        return self._start_update(fn, self._apply(fn.latest, params), False)

    def delete(self, name_or_arn: str, qualifier: str | None) -> None:
        ref = arns.parse(name_or_arn)
        q = arns.merge_qualifier(ref, qualifier)
        if q == LATEST:
            raise invalid_parameter(
                "$LATEST version cannot be deleted without deleting the function."
            )
        name, fn = self.function(name_or_arn)
        if q is None:
            del self._functions[name]
            self.shoal.store.delete(self.KIND, name)
            self._notify(name)
            return
        if not q.isdigit():
            raise invalid_parameter("Deletion of aliases is not currently supported.")
        if q not in fn.versions:
            raise not_found(f"Function not found: {self._arn(name, q)}")
        users = sorted(
            a.name for a in fn.aliases.values() if a.function_version == q or q in a.routing
        )
        if users:
            raise conflict(
                "Unable to delete version because the following aliases reference "
                f"it: [{', '.join(users)}]"
            )
        del fn.versions[q]
        self._changed(name)

    # ------------------------------------------------------------------ versions

    def publish(
        self,
        name_or_arn: str,
        code_sha256: str | None,
        description: str | None,
        revision_id: str | None,
    ) -> FunctionVersion:
        ref = arns.parse(name_or_arn)
        if ref.qualifier:
            raise invalid_parameter(
                f"PublishVersion takes an unqualified function name, not {name_or_arn}."
            )
        name, fn = self.function(name_or_arn)
        if code_sha256 and code_sha256 != fn.latest.code_sha256:
            raise invalid_parameter(
                f"CodeSHA256 ({code_sha256}) is different from current CodeSHA256 in $LATEST "
                f"({fn.latest.code_sha256}). Please try again with the CodeSHA256 in $LATEST."
            )
        if revision_id and revision_id != fn.latest.revision_id:
            raise AwsError(
                "PreconditionFailedException",
                "The Revision Id provided does not match the latest Revision Id. Call "
                "the GetFunction/GetAlias API to retrieve the latest Revision Id",
            )
        if fn.busy():
            raise in_progress(fn.latest)
        version = self._publish(fn, description)
        self._changed(name)
        return version

    def _publish(self, fn: _Function, description: str | None) -> FunctionVersion:
        """A new version from $LATEST, or the newest one if nothing changed since it."""
        if fn.versions:
            newest = fn.versions[max(fn.versions, key=int)]
            if _fingerprint(newest) == _fingerprint(fn.latest):
                return newest
        number = str(fn.next_version)
        fn.next_version += 1
        version = replace(
            fn.latest,
            version=number,
            revision_id=_revision(),
            last_update_status="Successful",
            last_update_status_reason=None,
            last_update_status_reason_code=None,
            description=fn.latest.description if description is None else description,
        )
        if fn.latest.state == "Pending" or fn.latest.last_update_status == "InProgress":
            version = replace(
                version,
                state="Pending",
                state_reason="The function is being created.",
                state_reason_code="Creating",
            )
        fn.versions[number] = version
        # Publishing changes $LATEST's revision too, as in Lambda.
        fn.latest = replace(fn.latest, revision_id=_revision())
        return version

    # ------------------------------------------------------------------ aliases

    def _check_routing(self, fn: _Function, primary: str, routing: Mapping[str, float]) -> None:
        self._version(fn, primary)
        if not routing:
            return
        if len(routing) > 1:
            raise invalid_parameter(
                "Number of items in AdditionalVersionWeights cannot be greater than 1"
            )
        if primary == LATEST:
            raise invalid_parameter(
                "$LATEST is not supported for an alias pointing to more than 1 version"
            )
        for version in routing:
            if version == primary:
                raise invalid_parameter(
                    f"Invalid function version {version}. Function version "
                    f"{version} is already included in routing configuration."
                )
            self._version(fn, version)

    def create_alias(
        self,
        name_or_arn: str,
        alias: str,
        version: str,
        description: str | None,
        routing: Mapping[str, float] | None,
    ) -> Alias:
        name, fn = self.function(name_or_arn)
        arn = self._arn(name, alias)
        if alias in fn.aliases:
            raise conflict(f"Alias already exists: {arn}")
        self._check_routing(fn, version, routing or {})
        created = Alias(
            name=alias,
            function_name=name,
            function_version=version,
            alias_arn=arn,
            description=description or "",
            routing=dict(routing or {}),
            revision_id=_revision(),
        )
        fn.aliases[alias] = created
        self._changed(name)
        return created

    def update_alias(self, name_or_arn: str, alias: str, params: Mapping[str, Any]) -> Alias:
        name, fn = self.function(name_or_arn)
        current = self.alias(name_or_arn, alias)
        if params.get("RevisionId") and params["RevisionId"] != current.revision_id:
            raise AwsError(
                "PreconditionFailedException",
                "The Revision Id provided does not match the latest Revision Id. Call "
                "the GetFunction/GetAlias API to retrieve the latest Revision Id",
            )
        version = params.get("FunctionVersion", current.function_version)
        routing = current.routing
        if "RoutingConfig" in params:
            routing = dict(params["RoutingConfig"].get("AdditionalVersionWeights") or {})
        self._check_routing(fn, version, routing)
        updated = replace(
            current,
            function_version=version,
            routing=routing,
            description=params.get("Description", current.description),
            revision_id=_revision(),
        )
        fn.aliases[alias] = updated
        self._changed(name)
        return updated

    def delete_alias(self, name_or_arn: str, alias: str) -> None:
        name, fn = self.function(name_or_arn)
        if fn.aliases.pop(alias, None) is not None:
            self._changed(name)

    # ------------------------------------------------------------------ tags

    def _tag_target(self, resource: str) -> _Function:
        ref = arns.parse(resource)
        if ref.qualifier:
            raise invalid_parameter(
                f"Tags are not supported on function versions or aliases: {resource}"
            )
        return self.function(resource)[1]

    def tag(self, resource: str, tags: Mapping[str, str]) -> None:
        fn = self._tag_target(resource)
        fn.tags.update(tags)
        self._changed(fn.latest.name)

    def untag(self, resource: str, keys: list[str]) -> None:
        fn = self._tag_target(resource)
        for key in keys:
            fn.tags.pop(key, None)
        self._changed(fn.latest.name)

    # Reserved concurrency is kept with the function (it goes when the function goes); the
    # rules (unreserved minimum, provisioned) are the invoker's (shoal.invocation.concurrency).

    def reserved_concurrency(self, name: str) -> int | None:
        fn = self._functions.get(name)
        return fn.reserved if fn else None

    def set_reserved_concurrency(self, name: str, value: int | None) -> None:
        _, fn = self.function(name)
        fn.reserved = value
        self._changed(name)

    # ------------------------------------------------------------------ internals

    def _changed(self, name: str) -> None:
        fn = self._functions.get(name)
        if fn is not None:
            self.shoal.store.put(self.KIND, name, fn.to_doc())
        self._notify(name)

    def _notify(self, name: str) -> None:
        for callback in list(self._subscribers):
            try:
                callback(name)
            except Exception:
                log.exception("function change subscriber failed for %s", name)

    def _settle_later(self, name: str) -> None:
        fn = self._functions[name]
        task = asyncio.get_running_loop().create_task(
            self._settle(name, fn.latest.revision_id, fn.latest.code_dir)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _settle(self, name: str, token: str, code_dir: str) -> None:
        """Unpack the package, then make the function Active/Successful (or Failed)."""
        error: str | None = None
        try:
            await asyncio.to_thread(self.code.unpack, code_dir.rsplit("/", 1)[-1])
        except InvalidZip as e:
            error = str(e)
        except Exception as e:
            log.exception("unpacking the package of %s failed", name)
            error = f"Shoal could not unpack the package: {e}"
        fn = self._functions.get(name)
        # Nothing else may change $LATEST while it is busy, so another revision means the
        # function was deleted (and maybe created again) meanwhile: not ours to settle.
        if fn is None or fn.latest.revision_id != token:
            return
        code = "InvalidZipFileException" if error else None
        status = "Failed" if error else "Successful"
        latest = replace(fn.latest, revision_id=_revision(), last_update_status=status)
        if latest.state == "Pending":
            # A failed creation shows in State; the update status stays empty.
            latest = replace(
                latest,
                state="Failed" if error else "Active",
                state_reason=error,
                state_reason_code=code,
            )
        else:
            latest = replace(
                latest, last_update_status_reason=error, last_update_status_reason_code=code
            )
            if not error:
                # A good update also revives a function whose creation failed.
                latest = replace(latest, state="Active", state_reason=None, state_reason_code=None)
                fn.previous = None
        fn.latest = latest
        for number, version in list(fn.versions.items()):
            if version.state == "Pending" and version.code_dir == code_dir:
                fn.versions[number] = replace(
                    version,
                    revision_id=_revision(),
                    state="Failed" if error else "Active",
                    state_reason=error,
                    state_reason_code=code,
                )
        self._changed(name)
