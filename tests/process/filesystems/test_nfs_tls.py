"""NFS over TLS through a mount target, as amazon-efs-utils' ``-o tls`` reaches EFS.

The client side is what efs-utils runs: a local stunnel client (its configuration as efs-utils
writes it: TLS 1.2+, ``verify = 2`` against a CA file, ``checkHost``) that libnfs's tools speak
plain NFS to. The server runs with ``--tls auto``, whose CA is the one the client trusts. With
EFS's "enforce in-transit encryption" policy, plaintext NFS is refused and TLS is served;
without it both are. Every stunnel these tests start is stopped by its own pid.
"""

from __future__ import annotations

import datetime
import json
import os
import signal
import socket
import ssl
import subprocess
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import (
    LocalUser,
    ShoalServer,
    create_function,
    run_as,
    signed_headers,
    start_server,
    unique_name,
    wait_for,
)

pytestmark = pytest.mark.nfs

TERMINATOR = "127.0.20.49"  # shoal.filesystems.tls_terminator.TERMINATOR_ADDRESS
# EFS's "Enforce in-transit encryption for all clients" policy, as the EFS console writes it.
ENFORCE_TLS = json.dumps({
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "efs-statement-default", "Effect": "Allow", "Principal": {"AWS": "*"},
         "Action": ["elasticfilesystem:ClientRootAccess", "elasticfilesystem:ClientWrite",
                    "elasticfilesystem:ClientMount"],
         "Condition": {"Bool": {"elasticfilesystem:AccessedViaMountTarget": "true"}}},
        {"Sid": "efs-statement-tls", "Effect": "Deny", "Principal": {"AWS": "*"},
         "Action": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    ],
})  # fmt: skip


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShoalServer]:
    srv = start_server(tmp_path_factory.mktemp("shoal-nfstls"), "--tls", "auto")
    try:
        yield srv
    finally:
        srv.stop()


def ca_of(srv: ShoalServer) -> Path:
    return srv.data_dir / "tls" / "ca.pem"


def client_of(srv: ShoalServer, service: str) -> Any:
    return boto3.client(
        service, endpoint_url=srv.endpoint, region_name="us-east-1", verify=str(ca_of(srv)),
        aws_access_key_id="shoal", aws_secret_access_key="shoal",
        config=Config(retries={"max_attempts": 0}),
    )  # fmt: skip


def shoal_get(srv: ShoalServer, path: str) -> tuple[int, dict[str, Any]]:
    url = f"{srv.endpoint}{path}"
    request = urllib.request.Request(url, headers=signed_headers("GET", url, b"", "shoal"))
    context = ssl.create_default_context(cafile=str(ca_of(srv)))
    try:
        with urllib.request.urlopen(request, context=context, timeout=30) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        with e:
            return e.code, json.load(e)


def default_subnet(ec2: Any) -> str:
    (subnet,) = ec2.describe_subnets(
        Filters=[{"Name": "default-for-az", "Values": ["true"]},
                 {"Name": "availability-zone", "Values": ["us-east-1a"]}]
    )["Subnets"]  # fmt: skip
    return str(subnet["SubnetId"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Target:
    """A file system with one available mount target on the TLS server."""

    def __init__(self, srv: ShoalServer, policy: str | None) -> None:
        self.srv, self.efs = srv, client_of(srv, "efs")
        self.fs_id = self.efs.create_file_system(CreationToken=unique_name("tls"))["FileSystemId"]
        if policy is not None:
            self.efs.put_file_system_policy(FileSystemId=self.fs_id, Policy=policy)
        self.mt_id = self.efs.create_mount_target(
            FileSystemId=self.fs_id, SubnetId=default_subnet(client_of(srv, "ec2"))
        )["MountTargetId"]

        def available() -> bool:
            (mt,) = self.efs.describe_mount_targets(MountTargetId=self.mt_id)["MountTargets"]
            assert mt["LifeCycleState"] in ("creating", "available"), "".join(srv.output[-30:])
            return bool(mt["LifeCycleState"] == "available")

        wait_for(available, timeout=60)
        status, body = shoal_get(srv, f"/shoal/fs/mount-targets/{self.mt_id}")
        assert status == 200, body
        self.port, self.tls_port = int(body["Port"]), body["TlsPort"]
        assert isinstance(self.tls_port, int) and self.tls_port != self.port, body

    def url(self, port: int, name: str) -> str:
        return f"nfs://127.0.0.1/{self.fs_id}/{name}?version=4&nfsport={port}"

    def delete(self) -> None:
        self.efs.delete_mount_target(MountTargetId=self.mt_id)
        self.efs.delete_file_system(FileSystemId=self.fs_id)


@pytest.fixture
def target(tls_server: ShoalServer) -> Iterator[Any]:
    made: list[Target] = []

    def make(policy: str | None = None) -> Target:
        made.append(Target(tls_server, policy))
        return made[-1]

    yield make
    for t in made:
        t.delete()


@contextmanager
def efs_utils_stunnel(tmp: Path, tls_port: int, ca: Path) -> Iterator[int]:
    """A stunnel client configured as amazon-efs-utils configures its own; yields its local
    port (what the NFS client connects to)."""
    local = free_port()
    conf = tmp / f"efs-utils-{local}.conf"
    conf.write_text(
        "foreground = yes\npid =\nsyslog = no\ndebug = notice\n"
        "[efs]\nclient = yes\n"
        f"accept = 127.0.0.1:{local}\nconnect = 127.0.0.1:{tls_port}\n"
        "sslVersion = TLSv1.2\nrenegotiation = no\n"
        "TIMEOUTbusy = 20\nTIMEOUTclose = 0\nTIMEOUTidle = 70\ndelay = yes\n"
        f"verify = 2\nCAfile = {ca}\ncheckHost = localhost\n"
    )
    log = open(tmp / f"efs-utils-{local}.log", "wb")  # noqa: SIM115 -- closed below
    proc = subprocess.Popen(["stunnel4", str(conf)], stdout=log, stderr=log)
    try:
        wait_for(lambda: _connects("127.0.0.1", local) or proc.poll() is not None, timeout=15)
        assert proc.poll() is None, (tmp / f"efs-utils-{local}.log").read_text()
        yield local
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _connects(address: str, port: int, source: str = "") -> bool:
    try:
        with socket.create_connection((address, port), timeout=5, source_address=(source, 0)):
            return True
    except OSError:
        return False


def nfs(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def other_ca(path: Path) -> Path:
    """A CA that signed nothing of Shoal's."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "not Shoal's CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def test_enforce_in_transit_policy_refuses_plaintext_and_serves_tls(
    target: Any, tls_server: ShoalServer, tmp_path: Path
) -> None:
    t = target(ENFORCE_TLS)
    local = tmp_path / "hello.txt"
    local.write_text("over TLS\n")
    plain = nfs("nfs-cp", str(local), t.url(t.port, "plain.txt"))
    # Refused: Ganesha does not even show a plaintext client the export it may not use.
    assert plain.returncode != 0, plain.stdout
    assert "NFS4ERR_NOENT" in plain.stderr or "NFS4ERR_ACCESS" in plain.stderr, plain.stderr
    assert not (tls_server.data_dir / "filesystems" / t.fs_id / "plain.txt").exists()
    with efs_utils_stunnel(tmp_path, t.tls_port, ca_of(tls_server)) as port:
        wrote = nfs("nfs-cp", str(local), t.url(port, "tls.txt"))
        assert wrote.returncode == 0, wrote.stderr
        read = nfs("nfs-cat", t.url(port, "tls.txt"))
        assert (read.returncode, read.stdout) == (0, "over TLS\n"), read.stderr
    # Reading it back in plaintext is refused too.
    read = nfs("nfs-cat", t.url(t.port, "tls.txt"))
    assert read.returncode != 0 and "NFS4ERR_" in read.stderr, read
    # The host mount (same machine) counts as secure transport: the policy lets it mount.
    status, body = shoal_get(tls_server, f"/shoal/fs/file-systems/{t.fs_id}/path")
    assert status == 200, body
    assert (Path(body["Path"]) / "tls.txt").read_text() == "over TLS\n"


def test_without_a_policy_plaintext_and_tls_both_work(
    target: Any, tls_server: ShoalServer, tmp_path: Path
) -> None:
    t = target()
    local = tmp_path / "hello.txt"
    local.write_text("either way\n")
    wrote = nfs("nfs-cp", str(local), t.url(t.port, "plain.txt"))
    assert wrote.returncode == 0, wrote.stderr
    with efs_utils_stunnel(tmp_path, t.tls_port, ca_of(tls_server)) as port:
        read = nfs("nfs-cat", t.url(port, "plain.txt"))
        assert (read.returncode, read.stdout) == (0, "either way\n"), read.stderr
        wrote = nfs("nfs-cp", str(local), t.url(port, "tls.txt"))
        assert wrote.returncode == 0, wrote.stderr
    read = nfs("nfs-cat", t.url(t.port, "tls.txt"))
    assert (read.returncode, read.stdout) == (0, "either way\n"), read.stderr
    # Root over TLS is root, as on EFS without a policy (ClientRootAccess granted).
    assert (tls_server.data_dir / "filesystems" / t.fs_id / "tls.txt").stat().st_uid == 0


def test_a_client_trusting_another_ca_fails_the_handshake(
    target: Any, tls_server: ShoalServer, tmp_path: Path
) -> None:
    t = target()
    wrong = other_ca(tmp_path / "other-ca.pem")
    with socket.create_connection(("127.0.0.1", t.tls_port), timeout=10) as sock:
        context = ssl.create_default_context(cafile=str(wrong))
        with pytest.raises(ssl.SSLCertVerificationError):
            context.wrap_socket(sock, server_hostname="localhost")
    # The right CA: TLS 1.2 at least, and the certificate names the mount target's host.
    with socket.create_connection(("127.0.0.1", t.tls_port), timeout=10) as sock:
        context = ssl.create_default_context(cafile=str(ca_of(tls_server)))
        with context.wrap_socket(sock, server_hostname="localhost") as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
    # efs-utils' stunnel with the wrong CA: the NFS client gets nothing through it.
    local = tmp_path / "x.txt"
    local.write_text("x\n")
    with efs_utils_stunnel(tmp_path, t.tls_port, wrong) as port:
        wrote = nfs("nfs-cp", str(local), t.url(port, "x.txt"))
        assert wrote.returncode != 0, wrote.stdout
    assert not (tls_server.data_dir / "filesystems" / t.fs_id / "x.txt").exists()


def test_nobody_but_the_terminator_speaks_from_its_address(
    target: Any, attacker: LocalUser
) -> None:
    """Ganesha serves the terminator's address as TLS clients without the privileged-port
    rule; any local process can bind a loopback address, so the guard must stop them."""
    t = target(ENFORCE_TLS)
    assert _connects("127.0.0.1", t.port)  # the port answers, from an ordinary address
    assert not _connects("127.0.0.1", t.port, source=TERMINATOR)  # not from its address
    for port, source in ((t.port, TERMINATOR), (t.tls_port, "127.0.0.1")):
        out = run_as(attacker, ["/usr/bin/python3", "-c", probe(port, source)])
        assert out.returncode != 0 and "refused" in out.stderr, (port, source, out)
    # The attacker reaches the plaintext port (and is then held to privileged ports there).
    out = run_as(attacker, ["/usr/bin/python3", "-c", probe(t.port, "127.0.0.1")])
    assert out.returncode == 0, out.stderr


def probe(port: int, source: str) -> str:
    """A script that connects to 127.0.0.1:port from ``source`` (exit 1, "refused", if not)."""
    return "\n".join([
        "import socket, sys",
        "try:",
        f"    socket.create_connection(('127.0.0.1', {port}), timeout=5,"
        f" source_address=({source!r}, 0)).close()",
        "except OSError as e:",
        "    sys.exit('refused: ' + str(e))",
    ])  # fmt: skip


def test_an_access_point_squashes_tls_clients_to_its_user(
    target: Any, tls_server: ShoalServer, tmp_path: Path
) -> None:
    t = target(ENFORCE_TLS)
    ap = t.efs.create_access_point(
        FileSystemId=t.fs_id, PosixUser={"Uid": 1001, "Gid": 1002},
        RootDirectory={"Path": "/app", "CreationInfo": {
            "OwnerUid": 1001, "OwnerGid": 1002, "Permissions": "750"}},
    )["AccessPointId"]  # fmt: skip
    wait_for(lambda: _exported(t, ap), timeout=60)  # the re-sync restarts the target's ganesha
    local = tmp_path / "ap.txt"
    local.write_text("as the access point's user\n")
    url = f"nfs://127.0.0.1/{ap}/ap.txt?version=4&nfsport={{}}"
    plain = nfs("nfs-cp", str(local), url.format(t.port))
    assert plain.returncode != 0, plain.stdout
    with efs_utils_stunnel(tmp_path, t.tls_port, ca_of(tls_server)) as port:
        wrote = nfs("nfs-cp", str(local), url.format(port))
        assert wrote.returncode == 0, wrote.stderr
    st = (tls_server.data_dir / "filesystems" / t.fs_id / "app" / "ap.txt").stat()
    assert (st.st_uid, st.st_gid) == (1001, 1002)


def _exported(t: Target, ap_id: str) -> bool:
    conf = t.srv.data_dir / "run" / "nfs" / t.mt_id / "ganesha.conf"
    return conf.exists() and f'Pseudo = "/{ap_id}";' in conf.read_text() and \
        _connects("127.0.0.1", t.port)  # fmt: skip


def test_tls_is_served_again_after_a_restart_and_nothing_is_left_behind(tmp_path: Path) -> None:
    data = tmp_path / "data"
    srv = start_server(data, "--tls", "auto")
    try:
        t = Target(srv, ENFORCE_TLS)
        first = (t.port, t.tls_port)
    finally:
        srv.stop()
    assert not _stunnels_of(data)
    table = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    assert "shoal_nfstls_" + _table_suffix(data) not in table
    srv = start_server(data, "--tls", "auto")
    try:
        status, body = shoal_get(srv, f"/shoal/fs/mount-targets/{t.mt_id}")
        assert status == 200 and (body["Port"], body["TlsPort"]) == first, body
        local = tmp_path / "again.txt"
        local.write_text("after a restart\n")
        wait_for(lambda: _connects("127.0.0.1", first[1]), timeout=60)
        with efs_utils_stunnel(tmp_path, first[1], ca_of(srv)) as port:
            wrote = nfs("nfs-cp", str(local), t.url(port, "again.txt"))
            assert wrote.returncode == 0, wrote.stderr
        assert _stunnels_of(data)
        t.srv, t.efs = srv, client_of(srv, "efs")
        t.delete()
    finally:
        srv.stop()
    assert not _stunnels_of(data)


def _stunnels_of(path: Path) -> list[int]:
    """The pids of live stunnels whose command line names ``path`` (or a file under it)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if "stunnel" in cmdline and str(path) in cmdline and state != "Z":
            found.append(int(proc.name))
    return found


def _table_suffix(data: Path) -> str:
    import hashlib

    return hashlib.sha256(str(data / "run").encode()).hexdigest()[:10]


def test_a_killed_terminator_is_restarted(target: Any, tls_server: ShoalServer,
                                          tmp_path: Path) -> None:  # fmt: skip
    t = target()
    conf = str(tls_server.data_dir / "run" / "nfs-tls" / t.mt_id / "stunnel.conf")
    (pid,) = _stunnels_of(Path(conf))
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: [p for p in _stunnels_of(Path(conf)) if p != pid], timeout=30)
    wait_for(lambda: _connects("127.0.0.1", t.tls_port), timeout=30)
    local = tmp_path / "back.txt"
    local.write_text("restarted\n")
    with efs_utils_stunnel(tmp_path, t.tls_port, ca_of(tls_server)) as port:
        wrote = nfs("nfs-cp", str(local), t.url(port, "back.txt"))
        assert wrote.returncode == 0, wrote.stderr


WRITER = """
import os

def handler(event, context):
    with open("/mnt/data/from-function.txt", "w") as f:
        f.write("secure by construction\\n")
    return os.stat("/mnt/data/from-function.txt").st_uid
"""


def test_functions_mount_under_the_enforce_in_transit_policy(
    target: Any, tls_server: ShoalServer
) -> None:
    """A function's mount is a bind mount that never leaves the machine: secure transport."""
    t = target(ENFORCE_TLS)
    ap = t.efs.create_access_point(
        FileSystemId=t.fs_id, PosixUser={"Uid": 1001, "Gid": 1001},
        RootDirectory={"Path": "/fn", "CreationInfo": {
            "OwnerUid": 1001, "OwnerGid": 1001, "Permissions": "755"}},
    )  # fmt: skip
    lam = client_of(tls_server, "lambda")
    name = create_function(lam, code=WRITER, FileSystemConfigs=[
        {"Arn": ap["AccessPointArn"], "LocalMountPath": "/mnt/data"}])  # fmt: skip
    try:
        resp = lam.invoke(FunctionName=name, Payload=b"{}")
        body = json.loads(resp["Payload"].read())
        assert "FunctionError" not in resp, body
        assert body == 1001
        written = tls_server.data_dir / "filesystems" / t.fs_id / "fn" / "from-function.txt"
        assert written.read_text() == "secure by construction\n"
    finally:
        lam.delete_function(FunctionName=name)
