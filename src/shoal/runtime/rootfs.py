"""The environment's minimal read-only root file system.

Built in two parts, so that a cold start costs only a few mount calls:

* :func:`prepare_base` runs once per zygote, inside the zygote's own private mount namespace:
  a small tmpfs holding empty mount points plus read-only binds of the system directories
  (/usr, the merged-/usr symlinks /bin /lib /lib64 /sbin, the interpreter's
  ``sys.base_prefix`` tree at the same path), a copied minimal /etc, the /dev nodes and a copy
  of the runtime package at /var/runtime; then the tmpfs itself is made read-only.
* :func:`mount_environment` runs in each environment's init process, in the mount namespace it
  just unshared (a copy of the zygote's, so the base is already there): a private /tmp tmpfs,
  the function code read-only at /var/task, the file-system mounts under /mnt, a /proc for the
  new PID namespace, and finally ``pivot_root`` into the base, detaching the host tree.

What /proc/self/mountinfo shows of the host. Its fourth field is the mounted directory's path
*inside the file system it belongs to*, whatever mount it was bound from: a bind mount of
``/var/lib/shoal/code/fn/3`` shows that path. So nothing whose host path matters is bound:
the runtime is copied into the base tmpfs (once per fork server), and the code is an overlay
(a file system of its own, whose root is "/") over the code directory, named to overlayfs by
``/proc/self/fd/N`` so that its options show no path either. Only the access points under
/mnt stay bind mounts: they must be the host's own inodes, so that locks and renames are shared
with other environments, host processes and NFS clients; their field shows the access point's
path within the file system that holds the data directory.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterable, Sequence
from typing import Tuple  # noqa: UP035 (MountSpec is evaluated on 3.8)

from . import linux
from .linux import MS_NODEV, MS_NOEXEC, MS_NOSUID

SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_FILES = (
    "passwd",
    "group",
    "hosts",
    "resolv.conf",
    "nsswitch.conf",
    "localtime",
    "host.conf",
    "ld.so.cache",
    "ld.so.conf",
    "os-release",
    "mime.types",
)
ETC_DIRS = ("ssl", "ca-certificates", "ld.so.conf.d")
DEV_NODES = ("null", "zero", "full", "random", "urandom", "tty")
DEV_LINKS = (
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
)
MOUNT_POINTS = ("proc", "dev", "etc", "tmp", "mnt", "var/task", "opt")
EMPTY_DIR = "/var/empty"  # the overlay's second, empty layer (overlayfs wants two)

# (source, target, readonly) of a file-system mount inside the environment.
MountSpec = Tuple[str, str, bool]  # noqa: UP006 (evaluated at run time on 3.8)


def make_mounts_private() -> None:
    """No mount or unmount done in this namespace may propagate back to the host. Slave, not
    private: the host's shared mounts still propagate in, which the file systems' directory is
    (shoal.filesystems.hosttree), so a volume mounted after the zygote started is seen here."""
    linux.mount(None, "/", None, linux.MS_REC | linux.MS_SLAVE)


def _under(path: str, roots: Iterable[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def _bind_system_dir(root: str, path: str) -> None:
    target = root + path
    if os.path.islink(path):
        # Merged /usr: /bin -> usr/bin. Keep the symlink; /usr itself is bound.
        os.symlink(os.readlink(path), target)
        return
    os.makedirs(target, exist_ok=True)
    linux.bind(path, target, readonly=True, extra=MS_NOSUID | MS_NODEV)


def resolver_config(
    host: str = "/etc/resolv.conf", upstream: str = "/run/systemd/resolve/resolv.conf"
) -> str | None:
    """The resolv.conf an environment gets: the host's, unless its nameservers are all on
    loopback (systemd-resolved's 127.0.0.53 stub), which an environment cannot reach from its
    own network namespace; then the upstream servers that resolver forwards to."""
    try:
        with open(host) as f:
            text = f.read()
    except OSError:
        return None
    servers = [line.split()[1] for line in text.splitlines() if line.startswith("nameserver ")]
    if servers and all(s.startswith("127.") or s == "::1" for s in servers):
        try:
            with open(upstream) as f:
                return f.read()
        except OSError:
            pass
    return text


def _populate_etc(root: str) -> None:
    for name in ETC_FILES:
        src = os.path.join("/etc", name)
        dst = root + src
        if name in ("passwd", "group"):
            open(dst, "w").close()  # each environment binds its own (mount_identity)
        elif name == "resolv.conf":
            config = resolver_config()
            if config is not None:
                with open(dst, "w") as f:
                    f.write(config)
        elif os.path.islink(src):
            os.symlink(os.readlink(src), dst)
        elif os.path.isfile(src):
            shutil.copyfile(src, dst)
    for name in ETC_DIRS:
        src = os.path.join("/etc", name)
        if os.path.isdir(src) and not os.path.islink(src):
            os.makedirs(root + src)
            linux.bind(src, root + src, readonly=True, extra=MS_NOSUID | MS_NODEV)


def _populate_dev(root: str) -> None:
    for name in DEV_NODES:
        src = "/dev/" + name
        if os.path.exists(src):
            open(root + src, "w").close()
            linux.bind(src, root + src, readonly=False, extra=MS_NOSUID | MS_NOEXEC)
    for name, target in DEV_LINKS:
        os.symlink(target, root + "/dev/" + name)
    os.makedirs(root + "/dev/pts")
    os.makedirs(root + "/dev/shm")


SDK_MINIMUM = (3, 10)  # boto3's oldest Python
CA_FILE = "/etc/shoal-ca.pem"  # Shoal's CA, for AWS_CA_BUNDLE (shoal.invocation.environ)


def sdk_site() -> str:
    """Where the bundled AWS SDK is in an environment: the runtime's own site directory, as on
    Lambda's Python runtimes (shoal.runtime.bootstrap puts it after the code and layers)."""
    return "/var/lang/lib/python{}.{}/site-packages".format(*sys.version_info[:2])


def prepare_base(
    root: str,
    runtime_dir: str,
    prefixes: Sequence[str],
    sdk_dir: str | None = None,
    ca_file: str | None = None,
) -> None:
    """Build the shared read-only base at ``root`` (an existing empty directory). ``sdk_dir``
    (the AWS SDK, bound read-only at :func:`sdk_site` on Pythons it supports) and ``ca_file``
    (copied to :data:`CA_FILE`) are the server's, when it has them."""
    linux.mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=0755")
    for d in MOUNT_POINTS:
        os.makedirs(os.path.join(root, d), exist_ok=True)
    os.chmod(root + "/tmp", 0o1777)
    for path in SYSTEM_DIRS:
        if os.path.lexists(path):
            _bind_system_dir(root, path)
    bound: list[str] = [p for p in SYSTEM_DIRS if os.path.isdir(p) and not os.path.islink(p)]
    for prefix in prefixes:
        prefix = os.path.realpath(prefix)
        if not _under(prefix, bound) and os.path.isdir(prefix):
            os.makedirs(root + prefix, exist_ok=True)
            linux.bind(prefix, root + prefix, readonly=True, extra=MS_NOSUID | MS_NODEV)
            bound.append(prefix)
    _populate_etc(root)
    _populate_dev(root)
    os.makedirs(root + EMPTY_DIR)
    shutil.copytree(
        runtime_dir, root + "/var/runtime", ignore=shutil.ignore_patterns("__pycache__")
    )
    if sdk_dir and sys.version_info[:2] >= SDK_MINIMUM:
        os.makedirs(root + sdk_site())
        mount_read_only_overlay(root, sdk_dir, sdk_site())  # a bind would show its host path
    if ca_file:
        shutil.copyfile(ca_file, root + CA_FILE)
    # The base itself becomes read-only: writing / inside an environment fails with EROFS.
    linux.mount(
        None, root, None, linux.MS_BIND | linux.MS_REMOUNT | linux.MS_RDONLY | MS_NOSUID | MS_NODEV
    )


def interpreter_prefixes() -> list[str]:
    """Trees the interpreter needs at their own paths: stdlib, extension modules, libpython."""
    prefixes = [sys.base_prefix, sys.base_exec_prefix]
    prefixes += [os.path.dirname(p) for p in sys.path if p.endswith(".zip")]
    return prefixes


USER_NAME = "sbx_user1051"  # what a Lambda function's user is called


def identity_files(uid: int, gid: int) -> dict[str, str]:
    """The environment's /etc/passwd and /etc/group: root, its own user (named as on Lambda,
    so that ``getpass.getuser()`` and ``pwd`` lookups work) and nobody; nothing of the host's
    accounts."""
    return {
        "passwd": (
            "root:x:0:0:root:/root:/sbin/nologin\n"
            f"{USER_NAME}:x:{uid}:{gid}::/tmp:/sbin/nologin\n"
            "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
        ),
        "group": f"root:x:0:\n{USER_NAME}:x:{gid}:\nnobody:x:65534:\n",
    }


def mount_identity(root: str, uid: int, gid: int) -> None:
    """Bind the environment's own passwd and group over the base's read-only copies. They are
    written to a scratch tmpfs on /tmp, bound, and the scratch detached before the real /tmp
    is mounted: a bound file outlives the mount it came from, and nothing else of it stays."""
    scratch = root + "/tmp"
    linux.mount("tmpfs", scratch, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k,mode=0755")
    for name, text in identity_files(uid, gid).items():
        with open(f"{scratch}/{name}", "w") as f:
            f.write(text)
        linux.bind(
            f"{scratch}/{name}",
            f"{root}/etc/{name}",
            readonly=True,
            extra=MS_NOSUID | MS_NODEV | MS_NOEXEC,
        )
    linux.umount2(scratch, linux.MNT_DETACH)


def mount_tmp(root: str, ephemeral_mb: int, uid: int, gid: int) -> None:
    linux.mount(
        "tmpfs",
        root + "/tmp",
        "tmpfs",
        MS_NOSUID | MS_NODEV,
        f"size={ephemeral_mb}m,mode=1777,uid={uid},gid={gid}",
    )


def _mount_user_mounts(root: str, mounts: Sequence[MountSpec]) -> None:
    """A private tmpfs on /mnt holds the mount points, then read-only once they exist."""
    if not mounts:
        return
    mnt = root + "/mnt"
    linux.mount("tmpfs", mnt, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    for source, target, readonly in mounts:
        os.makedirs(root + target, exist_ok=True)
        fd = linux.open_no_symlinks(source)
        try:
            linux.bind(
                f"/proc/self/fd/{fd}", root + target, readonly=readonly, extra=MS_NOSUID | MS_NODEV
            )
        finally:
            os.close(fd)
    linux.mount(None, mnt, None, linux.MS_REMOUNT | linux.MS_RDONLY | MS_NOSUID | MS_NODEV)


def mount_environment(
    root: str, code_dir: str, ephemeral_mb: int, uid: int, gid: int, mounts: Sequence[MountSpec]
) -> None:
    """Per-environment mounts, then pivot into ``root``. Runs as PID 1 of the new PID
    namespace, in its own fresh mount namespace, still as root."""
    mount_identity(root, uid, gid)
    mount_tmp(root, ephemeral_mb, uid, gid)
    mount_code(root, code_dir)
    _mount_user_mounts(root, mounts)
    mount_proc(root)
    enter_root(root)


def mount_code(root: str, code_dir: str) -> None:
    """The code, read-only at /var/task, as an overlay (see the module's docstring: a bind
    mount would show ``code_dir`` in mountinfo). Costs ~0.1 ms more than a bind."""
    mount_read_only_overlay(root, code_dir, "/var/task")


def mount_read_only_overlay(root: str, source: str, target: str) -> None:
    """``source`` read-only at ``target`` under ``root``, as an overlay whose options name
    no host path (``/proc/self/fd/N``)."""
    code = os.open(source, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    empty = os.open(root + EMPTY_DIR, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        linux.mount(
            "overlay",
            root + target,
            "overlay",
            linux.MS_RDONLY | MS_NOSUID | MS_NODEV,
            f"lowerdir=/proc/self/fd/{code}:/proc/self/fd/{empty}",
        )
    finally:
        os.close(code)
        os.close(empty)


def mount_proc(root: str) -> None:
    """A /proc of the caller's (new) PID namespace: it lists that namespace's processes only.
    Inside a user namespace the kernel requires the same nosuid/nodev/noexec as the /proc it
    covers."""
    linux.mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)


def enter_root(root: str) -> None:
    """``pivot_root(".", ".")`` stacks the old root on top of the new one; detaching it leaves
    nothing of the host tree reachable (no put_old directory needed in a read-only base)."""
    os.chdir(root)
    linux.pivot_root(".", ".")
    linux.umount2(".", linux.MNT_DETACH)
    os.chdir("/")
