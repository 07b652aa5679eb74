"""Request ids are version 4 UUID strings, distinct, as Lambda's are."""

from __future__ import annotations

import uuid

from shoal.invocation.request import new_request_id


def test_request_ids_are_uuid4_strings() -> None:
    ids = [new_request_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for rid in ids[:200]:
        parsed = uuid.UUID(rid)
        assert str(parsed) == rid  # canonical form: lower-case hex, 8-4-4-4-12
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
