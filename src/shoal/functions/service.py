"""The function service: the façade over functions, their versions, aliases and tags.

What it has and how a FunctionName finds a record is its base, :class:`FunctionCatalog`
(:mod:`.catalog`: the records in memory and in the store, lookups, resolving for an invocation,
committing a change and telling subscribers). This module makes the changes and runs the
background unpacking; the rules live beside it, as operations on a record: :mod:`.lifecycle`
(Pending, InProgress, Active, Failed), :mod:`.configuration` (members to a $LATEST),
:mod:`.publishing` (PublishVersion) and :mod:`.aliases` (routing). During an update the invoker
keeps running the configuration from before it (:meth:`FunctionCatalog.resolve_for_invoke`), as
Lambda does.

A change is made on a copy (:meth:`FunctionRecord.draft`), saved, then put in place
(:meth:`FunctionCatalog._commit`): a write the store refuses (a full disk) changes nothing. Every
mutation runs on the event loop and holds no ``await`` between its checks and its changes, so no
lock is needed; the only awaits (checking and unpacking a zip) happen before a mutation re-checks
what it relies on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from shoal.errors import conflict, invalid_parameter, not_found
from shoal.functions import aliases as alias_rules  # not `aliases`: a method's name here
from shoal.functions import arns, configuration, lifecycle, publishing, validation
from shoal.functions.catalog import FunctionCatalog, Key, key_of
from shoal.functions.code import CodeStore, InvalidZip, Package, inspect
from shoal.functions.layers import check_total, declared_size
from shoal.functions.models import LATEST, Alias, FunctionVersion
from shoal.functions.record import FunctionRecord, check_revision
from shoal.store.sqlite import StoreError

if TYPE_CHECKING:
    from shoal.core import Shoal

log = logging.getLogger("shoal.functions")


class FunctionService(FunctionCatalog):
    def __init__(self, shoal: Shoal) -> None:
        super().__init__(shoal)
        self.code = CodeStore(shoal.settings.code_dir)
        self._tasks: set[asyncio.Task[None]] = set()
        shoal.http.mount("/shoal/code/", self.code.download_app())

    # ------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        store = self.shoal.store
        store.claim(self.KIND, self.settings.region)  # made before regions: the default's
        interrupted = []
        for key, doc in store.load_regional(self.KIND).items():
            fn = FunctionRecord.from_doc(doc)
            self._functions[key] = fn
            if fn.busy() or any(v.state == "Pending" for v in fn.versions.values()):
                interrupted.append(key)
        await self._collect_orphans()  # first: nothing is being unpacked or merged yet
        for key in interrupted:
            self._settle_later(key)  # interrupted by a stop: finish it now

    async def _collect_orphans(self) -> None:
        """Remove the packages no version references (left by an interrupted create, or by
        deleted functions), before anything can create a new one."""
        keep = {h for fn in self._functions.values() for h in fn.packages()}
        orphans = await asyncio.to_thread(self.code.collect, keep)
        if orphans:
            log.info(
                "removed %d code package(s) that no function version references: %s",
                len(orphans),
                ", ".join(orphans),
            )
        lists = [v.layers for fn in self._functions.values() for v in fn.every_version()]
        packages, trees = await asyncio.to_thread(self.shoal.layers.collect, lists)
        if packages or trees:
            log.info(
                "removed %d layer package(s) that no layer or function version references "
                "(%s) and %d merged /opt tree(s) that no function version uses",
                len(packages), ", ".join(packages) or "none", len(trees),
            )  # fmt: skip

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # ------------------------------------------------------------------ functions

    def _check(self, region: str, params: Mapping[str, Any]) -> None:
        """The configuration of a function of ``region``: its access points must be there."""
        filesystems = getattr(self.shoal, "filesystems", None)
        lookup = getattr(filesystems, "access_point_by_arn", None)

        def access_point_exists(arn: str) -> bool:
            return lookup is not None and lookup(arn) is not None and arn.split(":")[3] == region

        validation.check_config(
            params,
            access_point_exists=access_point_exists if lookup else None,
            runtimes=validation.available_runtimes(getattr(self.shoal, "sandbox", None))
            if "Runtime" in params
            else None,
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

    def _new_name(self, name_or_arn: str) -> Key:
        """CreateFunction's FunctionName, checked: this account's, well-formed, not taken."""
        ref = arns.parse(name_or_arn)
        key = self._key(ref)
        if ref.qualifier:
            arns.check_new_name(f"{ref.name}:{ref.qualifier}")
        arns.check_new_name(ref.name)
        if key in self._functions:
            raise conflict(f"Function already exist: {ref.name}")
        return key

    async def create(self, params: Mapping[str, Any]) -> FunctionVersion:
        """CreateFunction; ``params`` are its input members. Returns the Pending configuration
        ($LATEST, or version 1 with Publish)."""
        key = self._new_name(params["FunctionName"])
        name = key[1]
        configuration.check_create(params)
        self._check(key[0], params)
        package = await self._save_package(params["Code"])
        params = await self._with_layers(key[0], params, package.unzipped_size)
        if key in self._functions:  # created while we checked the zip
            raise conflict(f"Function already exist: {name}")
        code_dir = str(self.code.tree(package.hex))
        latest = configuration.initial(name, self._arn(key), code_dir, package, params)
        fn = FunctionRecord(latest=lifecycle.creating(latest), tags=dict(params.get("Tags") or {}))
        result = publishing.publish(fn, None) if params.get("Publish") else fn.latest
        self._commit(key, fn)
        self._settle_later(key)
        return result

    def _begin_update(self, name_or_arn: str, revision_id: str | None) -> FunctionRecord:
        ref = arns.parse(name_or_arn)
        if ref.qualifier:
            raise invalid_parameter(
                "Updates apply to $LATEST; the function name must not carry "
                f"a qualifier ({ref.qualifier})."
            )
        _, fn = self.function(name_or_arn)
        check_revision(revision_id, fn.latest.revision_id)
        lifecycle.check_idle(fn)
        return fn

    def _start_update(
        self, fn: FunctionRecord, new: FunctionVersion, publish: bool
    ) -> FunctionVersion:
        fn = fn.draft()
        lifecycle.start_update(fn, new)
        result = publishing.publish(fn, None) if publish else fn.latest
        self._commit(key_of(fn), fn)
        self._settle_later(key_of(fn))
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
        check_total(package.unzipped_size, fn.latest.layers)
        new = configuration.apply(fn.latest, {"Architectures": params.get("Architectures")})
        new = replace(
            new,
            code_dir=str(self.code.tree(package.hex)),
            code_sha256=package.sha256,
            code_size=package.size,
        )
        return self._start_update(fn, new, bool(params.get("Publish")))

    async def update_configuration(self, params: Mapping[str, Any]) -> FunctionVersion:
        fn = self._begin_update(params["FunctionName"], params.get("RevisionId"))
        self._check(fn.latest.region, params)
        if "Layers" in params:
            code = self.code.zip_path(fn.latest.code_dir.rsplit("/", 1)[-1])
            unzipped = await asyncio.to_thread(declared_size, code)
            params = await self._with_layers(fn.latest.region, params, unzipped)
            fn = self._begin_update(params["FunctionName"], params.get("RevisionId"))
        return self._start_update(fn, configuration.apply(fn.latest, params), False)

    async def _with_layers(
        self, region: str, params: Mapping[str, Any], unzipped: int
    ) -> Mapping[str, Any]:
        """``params`` with its Layers (ARNs) resolved into LayerRefs by the layer service."""
        if "Layers" not in params:
            return params
        refs = await self.shoal.layers.for_function(region, params["Layers"], unzipped)
        return {**params, "Layers": refs}

    def delete(self, name_or_arn: str, qualifier: str | None) -> None:
        ref = arns.parse(name_or_arn)
        q = arns.merge_qualifier(ref, qualifier)
        if q == LATEST:
            raise invalid_parameter(
                "$LATEST version cannot be deleted without deleting the function."
            )
        key, fn = self._function(name_or_arn)
        if q is None:
            self.shoal.store.delete(self.KIND, key[1], key[0])
            del self._functions[key]
            self._notify(fn.latest.function_arn)
            return
        if not q.isdigit():
            raise invalid_parameter("Deletion of aliases is not currently supported.")
        if q not in fn.versions:
            raise not_found(f"Function not found: {self._arn(key, q)}")
        fn = fn.draft()
        publishing.delete(fn, q)
        self._commit(key, fn)

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
        key, fn = self._function(name_or_arn)
        publishing.check_publish(fn, code_sha256, revision_id)
        fn = fn.draft()
        version = publishing.publish(fn, description)
        self._commit(key, fn)
        return version

    # ------------------------------------------------------------------ aliases

    def create_alias(
        self,
        name_or_arn: str,
        alias: str,
        version: str,
        description: str | None,
        routing: Mapping[str, float] | None,
    ) -> Alias:
        key, fn = self._function(name_or_arn)
        fn = fn.draft()
        created = alias_rules.create(
            fn, self._arn(key, alias), alias, version, description, routing
        )
        self._commit(key, fn)
        return created

    def update_alias(self, name_or_arn: str, alias: str, params: Mapping[str, Any]) -> Alias:
        key, fn = self._function(name_or_arn)
        fn = fn.draft()
        updated = alias_rules.update(fn, alias, params)
        self._commit(key, fn)
        return updated

    def delete_alias(self, name_or_arn: str, alias: str) -> None:
        key, fn = self._function(name_or_arn)
        if alias in fn.aliases:
            fn = fn.draft()
            del fn.aliases[alias]
            self._commit(key, fn)

    # ------------------------------------------------------------------ tags

    def _tag_target(self, resource: str) -> FunctionRecord:
        ref = arns.parse(resource)
        if ref.qualifier:
            raise invalid_parameter(
                f"Tags are not supported on function versions or aliases: {resource}"
            )
        return self.function(resource)[1]

    def tags(self, name_or_arn: str) -> dict[str, str]:
        return dict(self._tag_target(name_or_arn).tags)

    def tag(self, resource: str, tags: Mapping[str, str]) -> None:
        fn = self._tag_target(resource).draft()
        fn.tags.update(tags)
        self._commit(key_of(fn), fn)

    def untag(self, resource: str, keys: list[str]) -> None:
        fn = self._tag_target(resource).draft()
        for key in keys:
            fn.tags.pop(key, None)
        self._commit(key_of(fn), fn)

    # Reserved concurrency is kept with the function (it goes when the function goes); the
    # rules (unreserved minimum, provisioned) are the invoker's (shoal.invocation.concurrency).

    def reserved_concurrency(self, name_or_arn: str) -> int | None:
        fn = self._functions.get(self._key(arns.parse(name_or_arn)))
        return fn.reserved if fn else None

    def set_reserved_concurrency(self, name_or_arn: str, value: int | None) -> None:
        key, fn = self._function(name_or_arn)
        fn = fn.draft()
        fn.reserved = value
        self._commit(key, fn)

    # ------------------------------------------------------------------ internals

    def _settle_later(self, key: Key) -> None:
        fn = self._functions[key]
        task = asyncio.get_running_loop().create_task(
            self._settle(key, fn.latest.revision_id, fn.latest.code_dir)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _settle(self, key: Key, token: str, code_dir: str) -> None:
        """Unpack the package, then make the function Active/Successful (or Failed)."""
        error: str | None = None
        try:
            await asyncio.to_thread(self.code.unpack, code_dir.rsplit("/", 1)[-1])
        except InvalidZip as e:
            error = str(e)
        except Exception as e:
            log.exception("unpacking the package of %s failed", key[1])
            error = f"Shoal could not unpack the package: {e}"
        fn = self._functions.get(key)
        # Nothing else may change $LATEST while it is busy, so another revision means the
        # function was deleted (and maybe created again) meanwhile: not ours to settle.
        if fn is None or fn.latest.revision_id != token:
            return
        fn = fn.draft()
        lifecycle.settle(fn, code_dir, error)
        try:
            self._commit(key, fn)
        except StoreError:
            # Still busy in memory and in the store: the next start settles it again.
            log.exception("could not save the settled state of %s", key[1])
