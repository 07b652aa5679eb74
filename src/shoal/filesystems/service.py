"""The file-system service: file systems and access points, and what an execution environment
mounts; the policies set on them are its :attr:`FileSystemService.policies`
(:mod:`shoal.filesystems.fs_policies`), its mount targets :attr:`FileSystemService.targets`.

State lives in memory (dicts below, replaced object by object: every model is frozen) and is
written through to the store on every change: saved first, then put in memory, so a write the
store refuses (a full disk) changes nothing. All methods run on the event loop, and the ones
that change state do so without awaiting in between, so the dicts need no lock; mount targets
(which await NFS-Ganesha) have their own lock in :mod:`shoal.filesystems.targets`.

Ids (``fs-…``, ``fsap-…``) are unique everywhere; a file system is in the region its ARN names
(an access point in its file system's), and the lists and creation tokens are per region. That
another region's resource is not found is the API layer's check (``shoal.api.efs``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shoal.errors import AwsError
from shoal.filesystems import fs_policies, headroom, rootdir
from shoal.filesystems.fskeys import FileSystemKeys
from shoal.filesystems.metering import Measure, Meter
from shoal.filesystems.models import (
    AccessPoint,
    CreationInfo,
    EnvironmentIdentity,
    FileSystem,
    PosixUser,
    new_id,
)
from shoal.filesystems.mounting import function_mounts
from shoal.filesystems.rules import (
    MAXIO_ELASTIC,
    MAXIO_ONE_ZONE,
    bad_request,
    check_path,
    check_throughput,
    check_throughput_change,
)
from shoal.filesystems.targets import MountTargets
from shoal.filesystems.volumes import Volumes

if TYPE_CHECKING:
    from shoal.core import Shoal
    from shoal.functions.models import FunctionVersion

log = logging.getLogger("shoal.filesystems")

MAX_ACCESS_POINTS = 1000


def short_id(value: str) -> str:
    """``fs-…``/``fsap-…`` from an id or an ARN (the model accepts both)."""
    return value.rsplit("/", 1)[-1]


class FileSystemService:
    def __init__(self, shoal: Shoal) -> None:
        self.shoal = shoal
        self.settings = shoal.settings
        self.store = shoal.store
        self.meter = Meter()
        # Encrypted file systems' keys are KMS data keys (shoal.filesystems.fskeys).
        kms = getattr(shoal, "kms", None)
        volumes_dir = self.settings.data_dir / "volumes"
        self.keys = FileSystemKeys(kms, self.store, volumes_dir) if kms is not None else None
        self.volumes = Volumes(self.settings.data_dir, self.settings.fs_dir,
                               self.settings.fs_reserve, self.keys)  # fmt: skip
        self._ticker: asyncio.Task[None] | None = None
        self._fs: dict[str, FileSystem] = {}  # fs id -> file system
        self._aps: dict[str, AccessPoint] = {}  # fsap id -> access point
        self._tasks: set[asyncio.Task[None]] = set()
        self.targets = MountTargets(self)
        if kms is not None:
            kms.subscribe(self._kms_key_changed)
        for doc in self.store.load("filesystem").values():
            fs = FileSystem.from_doc(doc)
            self._fs[fs.id] = fs
        for doc in self.store.load("accesspoint").values():
            ap = AccessPoint.from_doc(doc)
            self._aps[ap.id] = ap
        self.policies = fs_policies.FileSystemPolicies(self)
        from shoal.filesystems.endpoint import FsEndpoint

        shoal.http.mount("/shoal/fs/", FsEndpoint(self))

    async def start(self) -> None:
        # After the host tree's nosuid,nodev mount (hosttree runs first), before the targets.
        for fs in self._fs.values():
            await asyncio.to_thread(self.volumes.open, fs.id, fs.encrypted)
        if self.volumes.enabled:
            self._ticker = asyncio.get_running_loop().create_task(self._keep_headroom())
        await self.targets.start()

    async def _keep_headroom(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.volumes.headroom.settle_all)
            except OSError as e:
                log.warning("volume headroom not kept: %s", e)
            await asyncio.sleep(headroom.TICK_S)

    async def stop(self) -> None:
        await self.targets.stop()
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
        for task in list(self._tasks):
            await task
        await asyncio.to_thread(self.volumes.close_all)

    # ------------------------------------------------------------------ file systems

    def root(self, fs_id: str) -> Path:
        """The file system's tree: a directory of its own volume (shoal.filesystems.volumes)."""
        return self.volumes.tree(fs_id)

    def _arn(self, kind: str, resource_id: str, region: str) -> str:
        s = self.settings
        return f"arn:aws:elasticfilesystem:{region}:{s.account_id}:{kind}/{resource_id}"

    def create_file_system(
        self,
        token: str,
        *,
        region: str | None = None,  # the server's default when not given
        performance_mode: str = "generalPurpose",
        throughput_mode: str = "bursting",
        provisioned: float | None = None,
        encrypted: bool = False,
        kms_key_id: str | None = None,
        availability_zone: str | None = None,
        tags: Iterable[tuple[str, str]] = (),
    ) -> FileSystem:
        region = region or self.settings.region
        existing = self.by_token(token, region)
        if existing is not None:
            raise AwsError(
                "FileSystemAlreadyExists",
                f"File system '{existing.id}' already exists with creation token '{token}'",
                FileSystemId=existing.id,
            )
        check_throughput(throughput_mode, provisioned)
        if performance_mode == "maxIO" and throughput_mode == "elastic":
            raise bad_request(MAXIO_ELASTIC)
        if performance_mode == "maxIO" and availability_zone:
            raise bad_request(MAXIO_ONE_ZONE)  # the model: maxIO is not supported on One Zone
        if kms_key_id is not None and not encrypted:
            raise bad_request("KmsKeyId can be specified only when Encrypted is true")
        s = self.settings
        if encrypted and self.keys:
            kms_key_id = self.keys.key_arn(region, kms_key_id)  # EFS returns the key's ARN
        fs_id = new_id("fs")
        fs = FileSystem(
            id=fs_id, arn=self._arn("file-system", fs_id, region), owner_id=s.account_id,
            creation_token=token, creation_time=time.time(), performance_mode=performance_mode,
            throughput_mode=throughput_mode, provisioned_throughput=provisioned,
            encrypted=encrypted, kms_key_id=kms_key_id, availability_zone=availability_zone,
            tags=tuple(tags),
        )  # fmt: skip
        self.store.put("filesystem", fs.id, fs.to_doc())  # persisted first, published last
        try:
            self.volumes.create(fs_id, encrypted)
        except BaseException:
            self.store.delete("filesystem", fs.id)  # nobody has seen its id
            raise
        self._fs[fs.id] = fs
        log.info("created file system %s (token %s)", fs_id, token)
        return fs

    def _save_fs(self, fs: FileSystem) -> None:
        self.store.put("filesystem", fs.id, fs.to_doc())
        self._fs[fs.id] = fs

    def by_token(self, token: str, region: str) -> FileSystem | None:
        found = (f for f in self._fs.values() if f.creation_token == token and f.region == region)
        return next(found, None)

    def get_file_system(self, fs_id: str) -> FileSystem:
        fs = self._fs.get(short_id(fs_id))
        if fs is None:
            raise AwsError("FileSystemNotFound", f"File system '{short_id(fs_id)}' does not exist.")
        return fs

    def file_systems(self, region: str | None = None) -> list[FileSystem]:
        found = (f for f in self._fs.values() if region in (None, f.region))
        return sorted(found, key=lambda f: (f.creation_time, f.id))

    def update_file_system(
        self, fs_id: str, throughput_mode: str | None, provisioned: float | None
    ) -> FileSystem:
        fs = self.get_file_system(fs_id)
        mode = throughput_mode or fs.throughput_mode
        if provisioned is None and mode == "provisioned":
            provisioned = fs.provisioned_throughput
        check_throughput(mode, provisioned)
        if fs.performance_mode == "maxIO" and mode == "elastic":
            raise bad_request(MAXIO_ELASTIC)
        now = time.time()
        if check_throughput_change(fs, mode, provisioned, now):
            fs = replace(fs, throughput_changed_at=now)
        fs = replace(fs, throughput_mode=mode, provisioned_throughput=provisioned)
        self._save_fs(fs)
        return fs

    def delete_file_system(self, fs_id: str) -> None:
        fs = self.get_file_system(fs_id)
        if self.targets.for_file_system(fs.id):
            raise AwsError("FileSystemInUse", f"File system '{fs.id}' has mount targets.")
        users = self._functions_using(fs.id)
        if users:
            raise AwsError(
                "FileSystemInUse",
                f"File system '{fs.id}' is in use by function(s) {', '.join(sorted(users))}.",
            )
        aps = self.access_points(fs.id)
        with self.store.transaction():
            for ap in aps:
                self.store.delete("accesspoint", ap.id)
            self.store.delete(fs_policies.KIND, fs.id)
            self.store.delete("filesystem", fs.id)
        for ap in aps:
            del self._aps[ap.id]
        self.policies.forget(fs.id)
        del self._fs[fs.id]
        self.meter.forget(fs.id)
        io = getattr(self.shoal, "efs_io", None)
        if io is not None:
            io.forget(fs.id)  # its throttle and credits go before its volume does
        # The volume goes off the loop (unmount, detach, unlink: the id is gone already).
        self._spawn(asyncio.to_thread(self.volumes.delete, fs.id))
        log.info("deleted file system %s", fs.id)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _functions_using(self, fs_id: str) -> set[str]:
        functions = getattr(self.shoal, "functions", None)
        if functions is None or not hasattr(functions, "all_versions"):
            return set()
        arns = {ap.arn for ap in self._aps.values() if ap.file_system_id == fs_id}
        return {
            fn.name
            for fn in functions.all_versions()
            if any(c.arn in arns for c in fn.file_system_configs)
        }

    async def size(self, fs: FileSystem) -> Measure:
        return await self.meter.size(fs.id, self.root(fs.id))

    # ------------------------------------------------------------------ access points

    def create_access_point(
        self,
        fs_id: str,
        client_token: str,
        *,
        posix_user: PosixUser | None = None,
        path: str = "/",
        creation_info: CreationInfo | None = None,
        tags: Iterable[tuple[str, str]] = (),
    ) -> AccessPoint:
        fs = self.get_file_system(fs_id)
        tags = tuple(tags)
        check_path(path)
        for ap in self._aps.values():
            if ap.client_token == client_token and ap.file_system_id == fs.id:
                same = (ap.posix_user, ap.path, ap.creation_info, ap.tags) == (
                    posix_user, path, creation_info, tags,
                )  # fmt: skip
                if same:
                    return ap  # an idempotent retry
                raise AwsError(
                    "AccessPointAlreadyExists",
                    f"Access point '{ap.id}' already exists with client token '{client_token}' "
                    "and different parameters",
                    AccessPointId=ap.id,
                )
        siblings = self.access_points(fs.id)
        if len(siblings) >= MAX_ACCESS_POINTS:
            raise AwsError(
                "AccessPointLimitExceeded",
                f"File system '{fs.id}' already has {MAX_ACCESS_POINTS} access points",
            )
        ap_id = new_id("fsap")
        ap = AccessPoint(
            id=ap_id, arn=self._arn("access-point", ap_id, fs.region), file_system_id=fs.id,
            owner_id=self.settings.account_id, client_token=client_token, path=path,
            posix_user=posix_user, creation_info=creation_info, tags=tags,
            export_id=max((a.export_id for a in siblings), default=1) + 1,
        )  # fmt: skip
        self._save_ap(ap)
        self.targets.changed(fs.id)
        return ap

    def _save_ap(self, ap: AccessPoint) -> None:
        self.store.put("accesspoint", ap.id, ap.to_doc())
        self._aps[ap.id] = ap

    def get_access_point(self, ap_id: str) -> AccessPoint:
        ap = self._aps.get(short_id(ap_id))
        if ap is None:
            raise AwsError(
                "AccessPointNotFound", f"Access point '{short_id(ap_id)}' does not exist."
            )
        return ap

    def access_points(self, fs_id: str | None = None, region: str | None = None
                      ) -> list[AccessPoint]:  # fmt: skip
        aps = [
            a for a in self._aps.values()
            if fs_id in (None, a.file_system_id) and region in (None, a.region)
        ]  # fmt: skip
        return sorted(aps, key=lambda a: (a.file_system_id, a.export_id))

    def access_point_by_arn(self, arn: str) -> AccessPoint | None:
        ap = self._aps.get(short_id(arn))
        return ap if ap is not None and ap.arn == arn else None

    def delete_access_point(self, ap_id: str) -> None:
        ap = self.get_access_point(ap_id)
        self._drop_access_point(ap)
        self.targets.changed(ap.file_system_id)

    def _drop_access_point(self, ap: AccessPoint) -> None:
        # The data stays: deleting an access point never deletes files, as on EFS.
        self.store.delete("accesspoint", ap.id)
        del self._aps[ap.id]

    # ------------------------------------------------------------------ tags

    def taggable(self, resource_id: str) -> FileSystem | AccessPoint:
        rid = short_id(resource_id)
        return self.get_access_point(rid) if rid.startswith("fsap-") else self.get_file_system(rid)

    def tags(self, resource_id: str) -> tuple[tuple[str, str], ...]:
        return self.taggable(resource_id).tags

    def tag(self, resource_id: str, tags: Iterable[tuple[str, str]]) -> None:
        res = self.taggable(resource_id)
        merged = dict(res.tags)
        merged.update(dict(tags))
        self._retag(res, tuple(merged.items()))

    def untag(self, resource_id: str, keys: Iterable[str]) -> None:
        res = self.taggable(resource_id)
        drop = set(keys)
        self._retag(res, tuple((k, v) for k, v in res.tags if k not in drop))

    def _retag(self, res: FileSystem | AccessPoint, tags: tuple[tuple[str, str], ...]) -> None:
        if isinstance(res, FileSystem):
            self._save_fs(res.with_tags(tags))
        else:
            self._save_ap(res.with_tags(tags))

    # ------------------------------------------------------------------ keys

    def check_key(self, fs: FileSystem) -> None:
        """EFSMountFailureException unless ``fs``'s KMS key can be used (no mount of any kind
        while it is disabled: shoal.filesystems.fskeys)."""
        if self.keys:
            self.keys.check(fs)
            self.volumes.unlock(fs.id)  # a volume left locked at start opens once it can

    def _kms_key_changed(self, key_arn: str) -> None:
        for fs in [f for f in self._fs.values() if f.kms_key_id == key_arn]:
            self.targets.changed(fs.id)

    # ------------------------------------------------------------------ mounting

    def access_point_root(self, ap: AccessPoint) -> str:
        """The host path of ``ap``'s root, created as at first mount (RootDirectoryError)."""
        return rootdir.ensure_root(self.root(ap.file_system_id), ap)

    def mounts_for(self, fn: FunctionVersion) -> EnvironmentIdentity:
        """The bind mounts and identity for ``fn``'s environments, as its execution role may
        have them (:func:`shoal.filesystems.mounting.function_mounts`)."""
        return function_mounts(self, fn)
