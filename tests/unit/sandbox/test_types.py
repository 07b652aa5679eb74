from __future__ import annotations

import dataclasses

import pytest

from shoal.sandbox.types import EnvironmentSpec, Mount, SpawnError, validate_spec


def spec(**kw: object) -> EnvironmentSpec:
    base: dict[str, object] = dict(
        env_id="env-1",
        runtime="python3.11",
        code_dir="/x",
        handler="app.handler",
        environment={},
        memory_mb=128,
        ephemeral_mb=512,
        timeout_s=3.0,
        uid=990,
        gid=990,
    )
    base.update(kw)
    return EnvironmentSpec(**base)  # type: ignore[arg-type]


def test_valid_spec_passes() -> None:
    validate_spec(spec(mounts=(Mount("/tmp", "/mnt/data"), Mount("/tmp", "/mnt/a/b", True))))


@pytest.mark.parametrize(
    "bad",
    [
        {"uid": 0},
        {"gid": 0},
        {"env_id": "Bad_ID"},
        {"env_id": ""},
        {"memory_mb": 0},
        {"timeout_s": 0},
        {"mounts": (Mount("/tmp", "/etc/x"),)},
        {"mounts": (Mount("/tmp", "/mnt/../etc"),)},
        {"mounts": (Mount("/tmp", "/mnt/a"), Mount("/tmp", "/mnt/a"))},
        {"environment": {"A=B": "x"}},
    ],
)
def test_refused_specs(bad: dict[str, object]) -> None:
    with pytest.raises(SpawnError):
        validate_spec(spec(**bad))


def test_types_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec().uid = 1  # type: ignore[misc]
