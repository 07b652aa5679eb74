"""Shared fixtures: a real ``shoal serve`` on a free loopback port, and real boto3 clients.

``server`` is session-scoped (one Shoal for the whole run, its data in a temporary directory);
tests that need a private server (restarts, signals) use ``start_server`` directly.
"""

from __future__ import annotations

import errno
import io
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

ROOT = Path(__file__).resolve().parent.parent
SHOAL = [sys.executable, "-m", "shoal"]


@dataclass
class ShoalServer:
    endpoint: str
    data_dir: Path
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)
    pump: threading.Thread | None = None

    def client(self, service: str, read_timeout: int = 120, region: str = "us-east-1") -> object:
        """A boto3 client signing for ``region`` (the region whose state it sees)."""
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=region,
            aws_access_key_id="shoal",
            aws_secret_access_key="shoal",
            config=Config(
                read_timeout=read_timeout, retries={"max_attempts": 0}, max_pool_connections=100
            ),
        )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.process.wait(timeout)
        if self.pump is not None:
            self.pump.join(timeout)
        if self.process.stdout is not None:
            self.process.stdout.close()
        return code


# Every test server's root credentials: the keys the tests' clients, the examples and the
# Terraform stack sign with (a throwaway run's fixed keys, as the README shows).
ROOT_KEYS = {"SHOAL_ROOT_ACCESS_KEY_ID": "shoal", "SHOAL_ROOT_SECRET_ACCESS_KEY": "shoal"}


def start_server(
    data_dir: Path,
    *extra: str,
    timeout: float = 60,
    env: dict[str, str] | None = None,
    execution_role: bool = True,
) -> ShoalServer:
    """Start ``shoal serve --port 0`` and wait for its "listening" line (no sleeps).

    ``execution_role``: make :data:`ROLE` (trusting Lambda), the role every test's functions
    run as, once the server is up (kept if a restarted data directory has it already)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [
            *SHOAL,
            "serve",
            "--port",
            "0",
            "--data-dir",
            str(data_dir),
            "--log-level",
            "warning",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        env={**os.environ, **ROOT_KEYS, **(env or {})},
    )
    output: list[str] = []
    ready = threading.Event()
    endpoint: list[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            output.append(line)
            m = re.search(r"Shoal listening on (\S+)", line)
            if m and not endpoint:
                endpoint.append(m.group(1))
                ready.set()
        ready.set()

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    if not ready.wait(timeout) or not endpoint:
        proc.kill()
        proc.wait()
        thread.join(10)
        if proc.stdout is not None:
            proc.stdout.close()
        raise RuntimeError("shoal serve did not start:\n" + "".join(output))
    srv = ShoalServer(endpoint[0], data_dir, proc, output, thread)
    if execution_role:
        try:
            create_role(srv, ROLE_NAME, _ca_of(srv, extra))
        except BaseException:
            srv.stop()
            raise
    return srv


# The execution role of every test's functions, and the trust policy that lets Lambda assume it.
ROLE_NAME = "lambda-role"
ROLE = f"arn:aws:iam::123456789012:role/{ROLE_NAME}"
LAMBDA_TRUST = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                   "Action": "sts:AssumeRole"}],
})  # fmt: skip


def _ca_of(srv: ShoalServer, extra: tuple[str, ...]) -> str | bool:
    """What a client of ``srv`` verifies its certificate with (True: the system's store)."""
    if not srv.endpoint.startswith("https:"):
        return True
    if "--tls-ca" in extra:
        return extra[extra.index("--tls-ca") + 1]
    return str(srv.data_dir / "tls" / "ca.pem")


def create_role(
    srv: ShoalServer, name: str, verify: str | bool = True, trust: str = LAMBDA_TRUST
) -> str:
    """Make the role ``name`` (by default trusting Lambda) unless it exists; its ARN."""
    return make_role(srv.endpoint, name, verify, trust)


def make_role(
    endpoint: str, name: str, verify: str | bool = True, trust: str = LAMBDA_TRUST
) -> str:
    """:func:`create_role` for the server at ``endpoint`` (a client's ``meta.endpoint_url``)."""
    iam = boto3.client(
        "iam", endpoint_url=endpoint, region_name="us-east-1", verify=verify,
        aws_access_key_id="shoal", aws_secret_access_key="shoal",
        config=Config(retries={"max_attempts": 0}),
    )  # fmt: skip
    try:
        return str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"])
    except iam.exceptions.EntityAlreadyExistsException:
        return str(iam.get_role(RoleName=name)["Role"]["Arn"])
    finally:
        iam.close()


@pytest.fixture(scope="session", autouse=True)
def _no_mount_left(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A server a test SIGKILLs leaves its file systems' nosuid bind mount (the next server
    on that data directory takes it over): unmount what is left under the run's temporary
    directory, deepest first, so the machine keeps no mounts and pytest can clean up."""
    yield
    base = str(tmp_path_factory.getbasetemp())
    with open("/proc/self/mounts") as mounts:
        points = [line.split()[1] for line in mounts]
    for point in sorted((p for p in points if p.startswith(base + "/")), reverse=True):
        subprocess.run(["umount", "-l", point], check=False, capture_output=True)
    # and the loop devices of file-system volumes (images under the run's directory).
    loops = subprocess.run(["losetup", "-n", "-l", "-O", "NAME,BACK-FILE"], capture_output=True,
                           text=True, check=False).stdout  # fmt: skip
    for name, back in (line.split(None, 1) for line in loops.splitlines() if " " in line):
        if back.strip().startswith(base + "/"):
            subprocess.run(["losetup", "-d", name], check=False, capture_output=True)


def module_server(dirname: str, env: dict[str, str] | None = None, name: str = "srv") -> Any:
    """A module-scoped fixture called ``name``: one server of its own for the module's tests,
    its data directory ``<tmp>/<dirname>N/data``, started with ``env``, stopped at the end."""

    @pytest.fixture(scope="module", name=name)
    def fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShoalServer]:
        server = start_server(tmp_path_factory.mktemp(dirname) / "data", env=env)
        try:
            yield server
        finally:
            server.stop()

    return fixture


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShoalServer]:
    srv = start_server(tmp_path_factory.mktemp("shoal-data"))
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def lambda_client(server: ShoalServer):  # type: ignore[no-untyped-def]
    return server.client("lambda")


@pytest.fixture(scope="session")
def efs_client(server: ShoalServer):  # type: ignore[no-untyped-def]
    return server.client("efs")


@pytest.fixture(scope="session")
def apigw_client(server: ShoalServer):  # type: ignore[no-untyped-def]
    return server.client("apigatewayv2")


def make_zip(files: dict[str, str | bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            # A fixed time: the same files make the same zip (and package) in any second.
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.external_attr = 0o600 << 16  # what writestr(name, …) gives
            zf.writestr(info, content, compress_type=zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def unique_name(prefix: str = "fn") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"


def create_function(
    client, name: str | None = None, code: str = "", handler: str = "app.handler", **kwargs
):  # type: ignore[no-untyped-def]
    """Create a function from the source of ``app.py`` and wait until it is Active."""
    name = name or unique_name()
    client.create_function(
        FunctionName=name,
        Runtime=kwargs.pop("Runtime", RUNTIME),
        Role=kwargs.pop("Role", ROLE),
        Handler=handler,
        Code={"ZipFile": make_zip({"app.py": code})},
        **kwargs,
    )
    client.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300}
    )
    return name


def default_subnet(srv: ShoalServer, zone: str = "us-east-1a") -> str:
    """The default VPC's subnet in ``zone`` (Shoal makes it on first use of the region)."""
    (subnet,) = srv.client("ec2", region=zone[:-1]).describe_subnets(
        Filters=[{"Name": "default-for-az", "Values": ["true"]},
                 {"Name": "availability-zone", "Values": [zone]}]
    )["Subnets"]  # fmt: skip
    return str(subnet["SubnetId"])


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.05):  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until it returns a truthy value (for state owned by another process)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(interval)


os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def code_root(tmp_path: Path) -> Path:
    """A directory the sandbox user can traverse (pytest's tmp dirs are 0700)."""
    tmp_path.chmod(0o755)
    return tmp_path


@contextmanager
def remote_web_server(directory: Path) -> Iterator[str]:
    """A web server on another host, as the internet is to a function: a network namespace of
    its own, joined to this host by a veth pair (198.18.0.0/15, the benchmarking range), serving
    ``directory``. Yields its base URL."""
    tag = uuid.uuid4().hex[:6]
    netns, near, far = f"shoal-web-{tag}", f"wn{tag}", f"wf{tag}"
    block = int(tag, 16) % (2 * 256 * 64)  # one /30 of the /15
    base = f"198.{18 + block // (256 * 64)}.{block // 64 % 256}.{block % 64 * 4}"
    prefix = base.rsplit(".", 1)[0]
    last = int(base.rsplit(".", 1)[1])
    here, there = f"{prefix}.{last + 1}", f"{prefix}.{last + 2}"
    setup = [
        ["ip", "netns", "add", netns],
        ["ip", "link", "add", near, "type", "veth", "peer", "name", far, "netns", netns],
        ["ip", "addr", "add", f"{here}/30", "dev", near],
        ["ip", "link", "set", near, "up"],
        ["ip", "-n", netns, "addr", "add", f"{there}/30", "dev", far],
        ["ip", "-n", netns, "link", "set", far, "up"],
        ["ip", "-n", netns, "link", "set", "lo", "up"],
    ]
    proc = None
    try:
        for argv in setup:
            subprocess.run(argv, check=True, capture_output=True)
        proc = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                netns,
                sys.executable,
                "-m",
                "http.server",
                "--bind",
                there,
                "8080",
                "--directory",
                str(directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def listening() -> bool:
            assert proc is not None and proc.poll() is None, "the web server exited"
            try:
                socket.create_connection((there, 8080), timeout=1).close()
                return True
            except OSError:
                return False

        wait_for(listening)
        yield f"http://{there}:8080"
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
        subprocess.run(["ip", "netns", "del", netns], capture_output=True)  # takes the pair


# The attack suite (tests/security): an unprivileged local user, and a Shoal whose data directory
# sits where that user could walk into it if Shoal let it. Attacks that a local user would make
# run as ``attacker`` (a real account made for the session with ``useradd``, removed afterwards)
# through run_as. The server under attack keeps its data under /var/tmp, whose parents are
# world-traversable, so a refused read is Shoal's doing and not the accident of pytest's 0700
# temporary root.


@dataclass(frozen=True)
class LocalUser:
    name: str
    uid: int
    gid: int


def run_as(
    user: LocalUser, argv: list[str], *, timeout: float = 60, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` as ``user`` alone: its uid and gid, no supplementary groups, no capabilities,
    a clean environment. Never raises for a non-zero exit: the caller asserts on it."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8"}
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [
            "setpriv", f"--reuid={user.uid}", f"--regid={user.gid}", "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--",
            *argv,
        ],
        env=env, capture_output=True, text=True, timeout=timeout, cwd="/", **kwargs,
    )


def run_as_suid(
    user: LocalUser, argv: list[str], *, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Like :func:`run_as` but with set-id programs allowed to take effect (no
    ``no_new_privs``): what a real local user's shell can do."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8"}
    # Through sh: setpriv keeps its capabilities in effect until its own execve, so a program
    # it execs directly is found with root's search rights (a 0700 directory on the path would
    # not stop it). sh runs capability-free and looks the program up as the user.
    return subprocess.run(
        ["setpriv", f"--reuid={user.uid}", f"--regid={user.gid}", "--clear-groups", "--",
         "/bin/sh", "-c", 'exec "$@"', "sh", *argv],  # fmt: skip
        env=env, capture_output=True, text=True, timeout=timeout, cwd="/",
    )


@pytest.fixture(scope="session")
def attacker() -> Iterator[LocalUser]:
    """A fresh unprivileged local account, removed (with anything it owns in /tmp) afterwards."""
    if os.geteuid() != 0:
        pytest.fail("the attack suite runs as root: it creates a local user to attack with")
    name = f"shoalx{uuid.uuid4().hex[:8]}"
    subprocess.run(
        ["useradd", "--no-create-home", "--shell", "/bin/sh", "--user-group", name],
        check=True, capture_output=True,
    )
    try:
        entry = pwd.getpwnam(name)
        yield LocalUser(name, entry.pw_uid, entry.pw_gid)
    finally:
        subprocess.run(["userdel", name], capture_output=True)


@pytest.fixture(scope="session")
def exposed_root() -> Iterator[Path]:
    """A world-traversable parent directory (0755) for data directories under attack."""
    root = Path(tempfile.mkdtemp(prefix="shoal-attack-", dir="/var/tmp"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def attacked_server(exposed_root: Path) -> Iterator[ShoalServer]:
    """A Shoal of its own whose data directory a local user could reach but for Shoal."""
    data = exposed_root / f"data-{uuid.uuid4().hex[:6]}"
    srv = start_server(data)
    try:
        yield srv
    finally:
        srv.stop()


def signed_headers(method: str, url: str, body: bytes, service: str, region: str = "us-east-1",
                   headers: dict[str, str] | None = None) -> dict[str, str]:  # fmt: skip
    """``headers`` plus the SigV4 headers boto3 would send for this request, signed with the
    test servers' root keys (for tests that send raw bodies)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method, url, data=body, headers=dict(headers or {}))
    key, secret = ROOT_KEYS["SHOAL_ROOT_ACCESS_KEY_ID"], ROOT_KEYS["SHOAL_ROOT_SECRET_ACCESS_KEY"]
    SigV4Auth(Credentials(key, secret), service, region).add_auth(request)
    return dict(request.headers)


def shoal_urlopen(url: str, method: str = "GET", timeout: float = 60):  # type: ignore[no-untyped-def]
    """``urllib.request.urlopen`` of one of Shoal's own endpoints (``/shoal/…``), signed for the
    service ``shoal`` with the test servers' root keys, as the ``shoal`` CLI signs them."""
    import urllib.request

    headers = signed_headers(method, url, b"", "shoal")
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers, method=method),
                                  timeout=timeout)  # fmt: skip


def signed_request(method: str, url: str, body: bytes = b"", service: str = "lambda",
                   headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]  # fmt: skip
    """A ``urllib.request.Request`` signed as boto3 signs it (the test servers' root keys), for
    tests that send raw requests to the API."""
    import urllib.request

    signed = signed_headers(method, url, body, service, headers=headers)
    return urllib.request.Request(url, data=body or None, headers=signed, method=method)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 48 MB tmpfs of its own, for the full-disk tests."""
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(disk)], check=True)
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def fill_disk(disk: Path) -> Path:
    """Write a file until the disk refuses another byte; the file (remove it to free the
    disk)."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as e:
                assert e.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler
