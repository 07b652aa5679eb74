"""The KMS component (``shoal.kms``): keys and aliases, persisted in the metadata store, with
KMS's key states and the cryptography EFS's file-system keys go through.

State: ``kms-key`` rows (key id -> :class:`Key`, region ``''``: ids are unique everywhere and the
key carries its region) and ``kms-alias`` rows (alias name, in its region). Every change is
written to the store first, then published in memory under ``_lock`` (a change of a key and its
aliases is one transaction). Keys scheduled for deletion are deleted, with their aliases, once
their deletion date has passed: checked on every look-up and listing (:meth:`sweep`), so none
outlives its date by a request, and once a minute while the server runs.

Key states (the KMS Developer Guide, "Key states of KMS keys"): ``Enabled`` and ``Disabled``
(EnableKey / DisableKey), ``PendingDeletion`` (ScheduleKeyDeletion; CancelKeyDeletion leaves it
``Disabled``). Only an enabled key encrypts, decrypts or makes data keys (:meth:`usable`).

AWS managed keys (``alias/aws/elasticfilesystem``) are made on first use (:meth:`managed_key`),
as AWS makes them when a service first asks, or when DescribeKey names their alias.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from shoal.errors import AwsError
from shoal.kms import crypto
from shoal.kms.identifiers import MANAGED_PREFIX, alias_arn, key_arn, not_found, parse
from shoal.kms.models import AWS, DISABLED, ENABLED, PENDING_DELETION, Alias, Key
from shoal.kms.policies import default_policy, managed_policy, parsed

if TYPE_CHECKING:
    from shoal.core import Shoal

KEY, ALIAS = "kms-key", "kms-alias"
DAY = 86400.0
MANAGED = {
    "alias/aws/elasticfilesystem": (
        "elasticfilesystem",
        "Default key that protects my EFS filesystems when no other key is defined",
    )
}


def invalid_state(message: str) -> AwsError:
    return AwsError("KMSInvalidStateException", message)


class KmsService:
    def __init__(self, shoal: Shoal) -> None:
        self._store = shoal.store
        self._data_dir = shoal.settings.data_dir
        self.account = shoal.settings.account_id
        self.clock: Callable[[], float] = time.time
        self._master: crypto.MasterKey | None = None
        self._lock = threading.RLock()
        # key id -> key; (region, alias name) -> alias. Guarded by _lock.
        self._keys: dict[str, Key] = {}
        self._aliases: dict[tuple[str, str], Alias] = {}
        self._sweeper: asyncio.Task[None] | None = None
        # Called with a key's ARN after its state changed (the file systems it protects).
        self._listeners: list[Callable[[str], None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def subscribe(self, listener: Callable[[str], None]) -> None:
        self._listeners.append(listener)

    def _changed(self, key: Key) -> None:
        """Tell the listeners, on the event loop (a change may be made in a worker thread:
        a look-up that sweeps a key come due)."""
        for listener in self._listeners:
            if self._loop is not None:
                self._loop.call_soon_threadsafe(listener, key.arn)
            else:
                listener(key.arn)

    # ------------------------------------------------------------ life cycle

    def load(self) -> None:
        self._master = crypto.load_master(self._data_dir)
        self._keys = {k: Key.from_doc(d) for k, d in self._store.load(KEY).items()}
        self._aliases = {(r, n): Alias.from_doc(d)
                         for (r, n), d in self._store.load_regional(ALIAS).items()}  # fmt: skip

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.load()
        self.sweep()
        self._sweeper = asyncio.create_task(self._sweep_every(60.0))

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper

    async def _sweep_every(self, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            self.sweep()

    @property
    def master(self) -> crypto.MasterKey:
        if self._master is None:
            raise RuntimeError("shoal.kms is not started")
        return self._master

    # ------------------------------------------------------------ keys

    def create_key(
        self, region: str, description: str = "", policy: str | None = None,
        tags: tuple[tuple[str, str], ...] = (),
    ) -> Key:  # fmt: skip
        policy = policy if policy is not None else default_policy(self.account)
        parsed(policy)  # MalformedPolicyDocumentException before anything is kept
        key_id = str(uuid.uuid4())
        key = Key(
            key_id, region, self.account, self.clock(), description, ENABLED,
            self.master.seal(key_id, crypto.new_material()), secrets.token_hex(32), policy,
            tags=tags,
        )  # fmt: skip
        with self._lock:
            self._store.put(KEY, key_id, key.doc())
            self._keys[key_id] = key
        return key

    def _put(self, key: Key) -> Key:
        with self._lock:
            old = self._keys.get(key.id)
            self._store.put(KEY, key.id, key.doc())
            self._keys[key.id] = key
        if old is not None and old.state != key.state:
            self._changed(key)
        return key

    def find(self, region: str, ident: str, *, managed: bool = False) -> Key:
        """The key ``ident`` names in ``region`` (any state); NotFoundException otherwise.
        ``managed``: an AWS managed key's alias not made yet is made (DescribeKey, EFS)."""
        self.sweep()
        named = parse(ident, region, self.account)
        if named.alias is not None:
            alias = self._aliases.get((region, named.alias))
            if alias is None and managed and named.alias in MANAGED:
                return self.managed_key(region, named.alias)
            if alias is None:
                arn = alias_arn(region, self.account, named.alias)
                raise not_found(f"Alias {arn} is not found.")
            key_id = alias.target
        else:
            key_id = named.key_id or ""
        key = self._keys.get(key_id)
        if key is None or key.region != region:
            raise not_found(f"Key '{key_arn(region, self.account, key_id)}' does not exist")
        return key

    def managed_key(self, region: str, alias: str = "alias/aws/elasticfilesystem") -> Key:
        """The AWS managed key behind ``alias``, made (key and alias, one transaction) the first
        time it is asked for."""
        with self._lock:
            found = self._aliases.get((region, alias))
            if found is not None:
                return self._keys[found.target]
            service, description = MANAGED[alias]
            key_id = str(uuid.uuid4())
            now = self.clock()
            key = Key(
                key_id, region, self.account, now, description, ENABLED,
                self.master.seal(key_id, crypto.new_material()), secrets.token_hex(32),
                managed_policy(self.account, service, region), AWS,
            )  # fmt: skip
            entry = Alias(alias, region, self.account, key_id, now, now)
            with self._store.transaction():
                self._store.put(KEY, key_id, key.doc())
                self._store.put(ALIAS, alias, entry.doc(), region)
            self._keys[key_id] = key
            self._aliases[(region, alias)] = entry
            return key

    def keys(self, region: str) -> list[Key]:
        self.sweep()
        with self._lock:
            found = [k for k in self._keys.values() if k.region == region]
        return sorted(found, key=lambda k: k.id)

    @staticmethod
    def usable(key: Key) -> None:
        """Raise the error KMS gives for a cryptographic operation with a key not enabled."""
        if key.state == DISABLED:
            raise AwsError("DisabledException", f"{key.arn} is disabled.")
        if key.state == PENDING_DELETION:
            raise invalid_state(f"{key.arn} is pending deletion.")

    def set_enabled(self, key: Key, enabled: bool) -> Key:
        if key.state == PENDING_DELETION:
            raise invalid_state(f"{key.arn} is pending deletion.")
        return self._put(replace(key, state=ENABLED if enabled else DISABLED))

    def schedule_deletion(self, key: Key, days: int) -> Key:
        if key.state == PENDING_DELETION:
            raise invalid_state(f"{key.arn} is pending deletion.")
        when = self.clock() + days * DAY
        return self._put(replace(key, state=PENDING_DELETION, deletion_date=when,
                                 pending_days=days))  # fmt: skip

    def cancel_deletion(self, key: Key) -> Key:
        if key.state != PENDING_DELETION:
            raise invalid_state(f"{key.arn} is not pending deletion.")
        return self._put(replace(key, state=DISABLED, deletion_date=None, pending_days=None))

    def update(self, key: Key, **changes: object) -> Key:
        """A key with its description, policy or tags changed (validated by the caller)."""
        return self._put(replace(key, **changes))  # type: ignore[arg-type]

    def sweep(self) -> None:
        """Delete the keys whose deletion date has passed, and their aliases."""
        now = self.clock()
        with self._lock:
            due = [k for k in self._keys.values()
                   if k.state == PENDING_DELETION and (k.deletion_date or 0) <= now]  # fmt: skip
            for key in due:
                gone = [a for a in self._aliases.values() if a.target == key.id]
                with self._store.transaction():
                    self._store.delete(KEY, key.id)
                    for a in gone:
                        self._store.delete(ALIAS, a.name, a.region)
                del self._keys[key.id]
                for a in gone:
                    del self._aliases[(a.region, a.name)]
        for key in due:
            self._changed(key)

    # ------------------------------------------------------------ aliases

    def alias(self, region: str, name: str) -> Alias | None:
        return self._aliases.get((region, name))

    def aliases(self, region: str, key_id: str | None = None) -> list[Alias]:
        self.sweep()
        with self._lock:
            found = [a for (r, _), a in self._aliases.items()
                     if r == region and (key_id is None or a.target == key_id)]  # fmt: skip
        return sorted(found, key=lambda a: a.name)

    def put_alias(self, region: str, name: str, key: Key, *, create: bool) -> Alias:
        with self._lock:
            old = self._aliases.get((region, name))
            arn = alias_arn(region, self.account, name)
            if create and old is not None:
                message = f"An alias with the name {arn} already exists"
                raise AwsError("AlreadyExistsException", message)
            if not create and old is None:
                raise not_found(f"Alias {arn} is not found.")
            now = self.clock()
            entry = Alias(name, region, self.account, key.id, old.created if old else now, now)
            self._store.put(ALIAS, name, entry.doc(), region)
            self._aliases[(region, name)] = entry
            return entry

    def delete_alias(self, region: str, name: str) -> None:
        with self._lock:
            if (region, name) not in self._aliases:
                raise not_found(f"Alias {alias_arn(region, self.account, name)} is not found.")
            self._store.delete(ALIAS, name, region)
            del self._aliases[(region, name)]

    # ------------------------------------------------------------ cryptography

    def encrypt(self, key: Key, plaintext: bytes, context: Mapping[str, str] | None) -> bytes:
        self.usable(key)
        return crypto.encrypt(key.id, self.master.open(key.id, key.material), plaintext, context)

    def blob_key(self, region: str, blob: bytes) -> Key:
        """The key a ciphertext blob was made by; InvalidCiphertextException when the blob is
        not one of this region's keys'."""
        try:
            key_id = crypto.key_of(blob)
        except crypto.BadCiphertext:
            raise AwsError("InvalidCiphertextException", "") from None
        self.sweep()
        key = self._keys.get(key_id)
        if key is None or key.region != region:
            raise AwsError("InvalidCiphertextException", "")
        return key

    def decrypt(self, key: Key, blob: bytes, context: Mapping[str, str] | None) -> bytes:
        self.usable(key)
        try:
            return crypto.decrypt(self.master.open(key.id, key.material), blob, context)
        except crypto.BadCiphertext:
            raise AwsError("InvalidCiphertextException", "") from None

    def data_key(self, key: Key, size: int, context: Mapping[str, str] | None
                 ) -> tuple[bytes, bytes]:  # fmt: skip
        """A new data key of ``size`` bytes: (plaintext, its ciphertext blob under ``key``)."""
        plaintext = secrets.token_bytes(size)
        return plaintext, self.encrypt(key, plaintext, context)

    def is_managed_alias(self, name: str) -> bool:
        return name.startswith(MANAGED_PREFIX)
