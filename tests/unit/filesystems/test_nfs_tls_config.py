"""NFS over TLS, as pure functions: the terminator's CLIENT blocks in ganesha.conf, the
terminator's stunnel.conf, the guard's nftables rules and aws:SecureTransport in the policy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shoal import tls
from shoal.filesystems import policy, tls_guard
from shoal.filesystems.nfs import ClientRule, Export, render_config, validate_exports
from shoal.filesystems.tls_terminator import TERMINATOR_ADDRESS, render

FS_ARN = "arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/fs-1"
ENFORCE = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": [
        "elasticfilesystem:ClientRootAccess", "elasticfilesystem:ClientWrite",
        "elasticfilesystem:ClientMount"],
     "Condition": {"Bool": {"elasticfilesystem:AccessedViaMountTarget": "true"}}},
    {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "*",
     "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
]})  # fmt: skip


def clients(export_text: str) -> list[str]:
    """The CLIENT blocks of one EXPORT block, in order."""
    parts = export_text.split("    CLIENT {")[1:]
    return [p.split("    }")[0] for p in parts]


def exports_of(config: str) -> list[str]:
    return ["EXPORT {" + p for p in config.split("EXPORT {")[1:]]


def test_the_terminator_block_comes_first_without_the_port_rule(tmp_path: Path) -> None:
    e = Export(1, "/d/fs-1", "/fs-1", None, None, tls=ClientRule(None, None))
    config = render_config(tmp_path / "mt", "127.0.0.1", 2049, [e], TERMINATOR_ADDRESS)
    pseudo, whole = exports_of(config)
    for block in (pseudo, whole):
        first, second = clients(block)
        assert f"Clients = {TERMINATOR_ADDRESS};" in first  # 127.0.0.0/8 would match it too
        assert "PrivilegedPort = false;" in first
        assert "Clients = 127.0.0.0/8, ::1;" in second and "PrivilegedPort" not in second
    assert "PrivilegedPort = true;" in whole  # the export's own rule for everyone else
    assert "Access_Type = RW;" in clients(whole)[0]


def test_a_plaintext_refused_export_has_no_plaintext_block(tmp_path: Path) -> None:
    e = Export(2, "/d/fs-1/ap", "/fsap-1", 1001, 1001, plaintext=False,
               tls=ClientRule(1001, 1001, readonly=True))  # fmt: skip
    config = render_config(tmp_path / "mt", "127.0.0.1", 2049, [e], TERMINATOR_ADDRESS)
    (tls_block,) = clients(exports_of(config)[1])
    assert "Access_Type = RO;" in tls_block
    assert "Squash = All_Squash;" in tls_block and "Anonymous_Uid = 1001;" in tls_block


def test_tls_refused_exports_close_the_terminator_block(tmp_path: Path) -> None:
    e = Export(1, "/d/fs-1", "/fs-1", None, None, tls=None)
    config = render_config(tmp_path / "mt", "0.0.0.0", 2049, [e], TERMINATOR_ADDRESS)
    first, second = clients(exports_of(config)[1])
    assert "Access_Type = None;" in first
    assert "Clients = *;" in second


def test_without_a_terminator_nothing_changes(tmp_path: Path) -> None:
    e = Export(1, "/d/fs-1", "/fs-1", None, None, tls=ClientRule(None, None))
    config = render_config(tmp_path / "mt", "127.0.0.1", 2049, [e])
    assert TERMINATOR_ADDRESS not in config
    assert "PrivilegedPort = false" not in config


def test_bad_tls_rules_and_terminators_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="go together"):
        validate_exports([Export(1, "/d", "/fs-1", None, None, tls=ClientRule(1, None))])
    with pytest.raises(ValueError):
        render_config(tmp_path, "127.0.0.1", 2049, [Export(1, "/d", "/fs-1", None, None)],
                      "127.0.0.0/8")  # fmt: skip


def test_stunnel_config_presents_the_server_certificate_with_tls_settings(tmp_path: Path
                                                                          ) -> None:  # fmt: skip
    files = tls.TlsFiles(tmp_path / "server.pem", tmp_path / "server-key.pem", None)
    text = render("127.0.0.1", 2050, 2049, files)
    for line in ("accept = 127.0.0.1:2050", "connect = 127.0.0.1:2049",
                 f"local = {TERMINATOR_ADDRESS}", f"cert = {files.cert}", f"key = {files.key}",
                 "sslVersionMin = TLSv1.2", f"ciphers = {tls.CIPHERS}", "setuid = stunnel4",
                 "renegotiation = no", "foreground = yes"):  # fmt: skip
        assert line in text.splitlines()
    with pytest.raises(ValueError):
        render("127.0.0.1", 2050, 2049, tls.TlsFiles(Path("/x\n[evil]"), files.key, None))


def test_guard_rules_reset_all_but_the_terminator_and_root() -> None:
    text = tls_guard.ruleset("shoal_nfstls_x", [("127.0.0.1", 2049, 2050)], 995)
    assert (f"ip saddr {TERMINATOR_ADDRESS} ip daddr 127.0.0.1 tcp dport 2049 "
            "meta skuid != 995 reject with tcp reset") in text  # fmt: skip
    assert "ip daddr 127.0.0.1 tcp dport 2050 meta skuid != 0 reject with tcp reset" in text
    # Replaced whole: declared, deleted and written again in one transaction.
    assert text.index("delete table inet shoal_nfstls_x") < text.index("chain output")
    assert tls_guard.table_name(Path("/a")) != tls_guard.table_name(Path("/b"))
    # A target on every address is guarded on every address.
    text = tls_guard.ruleset("t", [("0.0.0.0", 2049, 2050)], 995)
    assert (f"ip saddr {TERMINATOR_ADDRESS} tcp dport 2049 meta skuid != 995 reject with tcp "
            "reset") in text and "daddr" not in text  # fmt: skip


@pytest.mark.parametrize(("secure", "mounts"), [(True, True), (False, False)])
def test_enforce_in_transit_policy_decides_on_secure_transport(secure: bool, mounts: bool
                                                               ) -> None:  # fmt: skip
    access = policy.evaluate(policy.parse(ENFORCE), principal=None, file_system_arn=FS_ARN,
                             access_point_arn=None, secure_transport=secure)  # fmt: skip
    assert (access.mount, access.write, access.root) == (mounts, mounts, mounts)
    # A function's role mounts with secure transport (its bind mount never leaves the host).
    role = "arn:aws:iam::123456789012:role/r"
    access = policy.evaluate(policy.parse(ENFORCE), principal=role, file_system_arn=FS_ARN,
                             access_point_arn=None)  # fmt: skip
    assert access.mount and access.write


def test_no_policy_admits_plaintext_too() -> None:
    access = policy.evaluate(None, principal=None, file_system_arn=FS_ARN,
                             access_point_arn=None, secure_transport=False)  # fmt: skip
    assert access == policy.FULL_ACCESS
