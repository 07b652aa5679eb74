"""Users, groups and roles (one :class:`Entity` record each), their inline policies, attached
managed policies, group membership and users' access keys.

Names are unique per kind whatever their case, as IAM's: the maps are keyed by the lower-cased
name. Every change is written to the store first, then to memory, then ``changed()`` is called
(the service drops its cache of parsed identity policies). Runs on the event loop only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from shoal.errors import AwsError
from shoal.iam.models import GROUP, PREFIXES, ROLE, USER, AccessKey, Entity, new_id, new_secret
from shoal.iam.policies import ManagedPolicies, check_document, malformed
from shoal.policy.document import Kind, parse
from shoal.store.sqlite import Store

KEY_KIND = "iam_access_key"
MAX_KEYS = 2
_NAMES = {USER: "user", GROUP: "group", ROLE: "role"}


def check_trust(document: str) -> None:
    parse(document, Kind.TRUST, malformed)


class Directory:
    def __init__(self, store: Store, account: str, policies: ManagedPolicies,
                 changed: Callable[[], None]) -> None:  # fmt: skip
        self._store = store
        self.account = account
        self._policies = policies
        self._changed = changed
        self._entities: dict[str, dict[str, Entity]] = {USER: {}, GROUP: {}, ROLE: {}}
        self._keys: dict[str, AccessKey] = {}

    def load(self) -> None:
        for kind, table in self._entities.items():
            for key, doc in self._store.load(f"iam_{kind}").items():
                table[key] = Entity.from_doc(doc)
        self._keys = {k: AccessKey.from_doc(d) for k, d in self._store.load(KEY_KIND).items()}

    def _save(self, entity: Entity) -> Entity:
        key = entity.name.lower()
        self._store.put(f"iam_{entity.kind}", key, entity.to_doc())
        self._entities[entity.kind][key] = entity
        self._changed()
        return entity

    # --------------------------------------------------------------------- entities

    def find(self, kind: str, name: str) -> Entity | None:
        return self._entities[kind].get(name.lower())

    def get(self, kind: str, name: str) -> Entity:
        entity = self.find(kind, name)
        if entity is None:
            raise AwsError("NoSuchEntity", f"The {_NAMES[kind]} with name {name} cannot be found.")
        return entity

    def all(self, kind: str, path_prefix: str = "/") -> list[Entity]:
        found = (e for e in self._entities[kind].values() if e.path.startswith(path_prefix))
        return sorted(found, key=lambda e: e.name.lower())

    def create(self, kind: str, name: str, path: str, **fields: Any) -> Entity:
        if self.find(kind, name) is not None:
            raise AwsError(
                "EntityAlreadyExists",
                f"{_NAMES[kind].capitalize()} with name {name} already exists.",
            )
        if kind == ROLE:
            check_trust(fields["trust"])
        entity = Entity(kind, name, new_id(PREFIXES[kind]), path, time.time(), **fields)
        return self._save(entity)

    def update(self, kind: str, name: str, **changes: Any) -> Entity:
        entity = self.get(kind, name)
        if "trust" in changes:
            check_trust(changes["trust"])
        return self._save(replace(entity, **changes))

    def rename(self, kind: str, name: str, new_name: str, new_path: str) -> Entity:
        """A user's or group's new name and path (``UpdateUser``/``UpdateGroup``): its id,
        policies and keys stay; the groups naming a user, and the keys naming it, follow."""
        entity = self.get(kind, name)
        if new_name.lower() != name.lower() and self.find(kind, new_name) is not None:
            raise AwsError(
                "EntityAlreadyExists",
                f"{_NAMES[kind].capitalize()} with name {new_name} already exists.",
            )
        renamed = replace(entity, name=new_name, path=new_path)
        groups = [
            replace(g, members=tuple(new_name if m == entity.name else m for m in g.members))
            for g in self.all(GROUP)
            if kind == USER and entity.name in g.members
        ]
        keys = [replace(k, user=new_name) for k in self._keys.values()
                if kind == USER and k.user == entity.name]  # fmt: skip
        with self._store.transaction():  # all of it or none, before memory changes
            self._store.delete(f"iam_{kind}", name.lower())
            self._store.put(f"iam_{kind}", new_name.lower(), renamed.to_doc())
            for g in groups:
                self._store.put(f"iam_{GROUP}", g.name.lower(), g.to_doc())
            for k in keys:
                self._store.put(KEY_KIND, k.id, k.to_doc())
        del self._entities[kind][name.lower()]
        self._entities[kind][new_name.lower()] = renamed
        self._entities[GROUP].update((g.name.lower(), g) for g in groups)
        self._keys.update((k.id, k) for k in keys)
        self._changed()
        return renamed

    def delete(self, kind: str, name: str) -> None:
        entity = self.get(kind, name)
        if entity.inline:
            raise AwsError("DeleteConflict", "Cannot delete entity, must delete policies first.")
        if entity.attached:
            raise AwsError(
                "DeleteConflict", "Cannot delete entity, must detach all policies first."
            )
        if entity.members:
            raise AwsError(
                "DeleteConflict", "Cannot delete entity, must remove users from group first."
            )
        if kind == USER and self.keys_of(name):
            raise AwsError("DeleteConflict", "Cannot delete entity, must delete access keys first.")
        if kind == USER and self.groups_of(name):
            raise AwsError(
                "DeleteConflict", "Cannot delete entity, must remove user from all groups first."
            )
        self._store.delete(f"iam_{kind}", name.lower())
        del self._entities[kind][name.lower()]
        self._changed()

    def tag(self, kind: str, name: str, tags: dict[str, str]) -> None:
        entity = self.get(kind, name)
        merged = {**dict(entity.tags), **tags}
        if len(merged) > 50:
            raise AwsError("LimitExceeded", "The number of tags has reached the maximum limit.")
        self._save(replace(entity, tags=tuple(merged.items())))

    def untag(self, kind: str, name: str, keys: list[str]) -> None:
        entity = self.get(kind, name)
        self._save(replace(entity, tags=tuple((k, v) for k, v in entity.tags if k not in keys)))

    # --------------------------------------------------------------------- policies

    def put_inline(self, kind: str, name: str, policy: str, document: str) -> None:
        entity = self.get(kind, name)
        check_document(document)
        kept = tuple((n, d) for n, d in entity.inline if n != policy)
        self._save(replace(entity, inline=(*kept, (policy, document))))

    def inline(self, kind: str, name: str, policy: str) -> str:
        found = dict(self.get(kind, name).inline).get(policy)
        if found is None:
            raise AwsError(
                "NoSuchEntity", f"The {_NAMES[kind]} policy with name {policy} cannot be found."
            )
        return found

    def delete_inline(self, kind: str, name: str, policy: str) -> None:
        self.inline(kind, name, policy)
        entity = self.get(kind, name)
        self._save(replace(entity, inline=tuple(p for p in entity.inline if p[0] != policy)))

    def attach(self, kind: str, name: str, arn: str) -> None:
        entity = self.get(kind, name)
        self._policies.attachable(arn)
        if arn not in entity.attached:
            if len(entity.attached) >= 10:
                raise AwsError("LimitExceeded", f"Cannot exceed quota for PoliciesPer"
                               f"{_NAMES[kind].capitalize()}: 10")  # fmt: skip
            self._save(replace(entity, attached=(*entity.attached, arn)))

    def detach(self, kind: str, name: str, arn: str) -> None:
        entity = self.get(kind, name)
        if arn not in entity.attached:
            raise AwsError("NoSuchEntity", f"Policy {arn} was not found.")
        self._save(replace(entity, attached=tuple(a for a in entity.attached if a != arn)))

    def attached_to(self, arn: str) -> list[Entity]:
        return [e for table in self._entities.values() for e in table.values()
                if arn in e.attached]  # fmt: skip

    # --------------------------------------------------------------------- groups

    def add_member(self, group: str, user: str) -> None:
        g = self.get(GROUP, group)
        u = self.get(USER, user)
        if u.name not in g.members:
            self._save(replace(g, members=(*g.members, u.name)))

    def remove_member(self, group: str, user: str) -> None:
        g = self.get(GROUP, group)
        u = self.get(USER, user)
        if u.name not in g.members:
            raise AwsError(
                "NoSuchEntity", f"The user with name {user} cannot be found in group {group}."
            )
        self._save(replace(g, members=tuple(m for m in g.members if m != u.name)))

    def groups_of(self, user: str) -> list[Entity]:
        name = self.get(USER, user).name
        return [g for g in self.all(GROUP) if name in g.members]

    # --------------------------------------------------------------------- access keys

    def key(self, key_id: str) -> AccessKey | None:
        return self._keys.get(key_id)

    def keys_of(self, user: str) -> list[AccessKey]:
        name = self.get(USER, user).name
        return sorted((k for k in self._keys.values() if k.user == name), key=lambda k: k.created)

    def create_key(self, user: str) -> AccessKey:
        name = self.get(USER, user).name
        if len(self.keys_of(name)) >= MAX_KEYS:
            raise AwsError(
                "LimitExceeded", f"Cannot exceed quota for AccessKeysPerUser: {MAX_KEYS}"
            )
        key = AccessKey(new_id("AKIA"), new_secret(), name, time.time())
        return self._save_key(key)

    def _own_key(self, user: str, key_id: str) -> AccessKey:
        key = self._keys.get(key_id)
        if key is None or key.user.lower() != user.lower():
            raise AwsError("NoSuchEntity", f"The Access Key with id {key_id} cannot be found.")
        return key

    def _save_key(self, key: AccessKey) -> AccessKey:
        self._store.put(KEY_KIND, key.id, key.to_doc())
        self._keys[key.id] = key
        return key

    def update_key(self, user: str, key_id: str, status: str) -> None:
        self._save_key(replace(self._own_key(user, key_id), status=status))

    def delete_key(self, user: str, key_id: str) -> None:
        self._own_key(user, key_id)
        self._store.delete(KEY_KIND, key_id)
        del self._keys[key_id]

    def owner_of_key(self, key_id: str) -> AccessKey:
        key = self._keys.get(key_id)
        if key is None:
            raise AwsError("NoSuchEntity", f"The Access Key with id {key_id} cannot be found.")
        return key
