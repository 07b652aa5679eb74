"""The attack suite's own footing: its local user really is unprivileged, and root really is not.

Every attack in this directory fails as ``attacker``; these show that the same tools succeed where
they should, so a failed attack is Shoal's defence and not a broken fixture.
"""

from __future__ import annotations

from conftest import LocalUser, run_as


def test_attacker_is_unprivileged(attacker: LocalUser) -> None:
    out = run_as(attacker, ["id", "-u"])
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) == attacker.uid != 0
    denied = run_as(attacker, ["cat", "/etc/shadow"])
    assert denied.returncode != 0 and "Permission denied" in denied.stderr


def test_attacker_can_read_what_others_can(attacker: LocalUser) -> None:
    out = run_as(attacker, ["cat", "/etc/passwd"])
    assert out.returncode == 0 and attacker.name in out.stdout
