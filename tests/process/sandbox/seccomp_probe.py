"""Makes every system call that the environments' seccomp filter must refuse, and says what each
one answered. Used twice with the same source: as a function's handler module (inside an
environment) and as a script run on the host as the same unprivileged uid, without any filter
(the control: ``python3 seccomp_probe.py '<calls as JSON>'``).

The arguments are chosen so that, without a filter, most calls answer something other than
EPERM (a success, EBADF, EINVAL, EFAULT...: the kernel checks them before any capability), so
that an EPERM inside the environment is the filter's and not an accident of being unprivileged.
None of them does anything lasting, even where the control lets it through.
"""

from __future__ import annotations

import ctypes
import errno
import json
import sys
from typing import Any

X32_BIT = 0x40000000  # __X32_SYSCALL_BIT: the x32 ABI's calls on x86-64

# name -> arguments (str: a NUL-terminated string; int: passed as a long)
CALLS: dict[str, list[Any]] = {
    "add_key": ["user", "shoal-probe", "x", 1, -2],  # into the process keyring
    "request_key": ["user", "shoal-probe-none", 0, 0],
    "keyctl": [0, -4, 0],  # KEYCTL_GET_KEYRING_ID of the user keyring
    "mount": [0, 0, 0, 0, 0],
    "umount2": [0, 0x80000000],
    "pivot_root": [0, 0],
    "move_mount": [-1, 0, -1, 0, 0xFFFFFFFF],
    "open_tree": [-1, 0, 0xFFFFFFFF],
    "fsopen": [0, 0xFFFFFFFF],
    "fsmount": [-1, 0xFFFFFFFF, 0],
    "fsconfig": [-1, 0, 0, 0, 0],
    "fspick": [-1, 0, 0xFFFFFFFF],
    "mount_setattr": [-1, 0, 0xFFFFFFFF, 0, 0],
    "unshare": [0],
    "setns": [-1, 0],
    "clone": [0x00020000 | 0x200, 0, 0, 0, 0],  # CLONE_NEWNS|CLONE_FS: invalid, never a child
    "clone3": [0, 0],
    "ptrace": [0xFFFF, 1],
    "bpf": [0xFFFF, 0, 0],
    "perf_event_open": [0, 0, -1, -1, 0],
    "userfaultfd": [3],  # UFFD_USER_MODE_ONLY and an unknown flag: EINVAL without a filter
    "kexec_load": [0, 0, 0, 0xFFFFFFFF],
    "kexec_file_load": [-1, -1, 0, 0, 0xFFFFFFFF],
    "open_by_handle_at": [-1, 0, 0],
    "name_to_handle_at": [-1, 0, 0, 0, 0xFFFFFFFF],
    "init_module": [0, 0, 0],
    "finit_module": [-1, 0, 0xFFFFFFFF],
    "delete_module": [0, 0],
    "io_uring_setup": [0, 0],
    "io_uring_enter": [-1, 0, 0, 0, 0, 0],
    "io_uring_register": [-1, 0, 0, 0],
    "personality": [0x0400000],  # READ_IMPLIES_EXEC
    "acct": [0],
    "swapon": [0, 0],
    "swapoff": [0],
    "reboot": [0, 0, 0, 0],
    "settimeofday": [0, 0],
    "clock_settime": [0, 0],
    "adjtimex": [0],
    "quotactl": [0, 0, 0, 0],
    "lookup_dcookie": [0, 0, 0],
    "syslog": [10, 0, 0],  # SYSLOG_ACTION_SIZE_BUFFER
    "vhangup": [],
    "iopl": [0],
    "ioperm": [0, 0, 0],
    "create_module": [0, 0],
    "get_kernel_syms": [0],
    "query_module": [0, 0, 0, 0, 0],
    "nfsservctl": [0, 0, 0],
    "uselib": [0],
    "ustat": [0, 0],
    "sysfs": [1, 0],
    "_sysctl": [0],
    "kcmp": [0, 0, 0, 0, 0],
    "process_vm_readv": [0, 0, 1, 0, 1, 0],
    "process_vm_writev": [0, 0, 1, 0, 1, 0],
    "fanotify_init": [0, 0],
    "pidfd_getfd": [-1, 0, 0],
    "chroot": [0],
    "sethostname": ["x", 1],
}


def probe(calls: dict[str, list[Any]]) -> dict[str, str]:
    """name -> "ok" or the errno's name. ``calls`` maps name -> [number, *arguments]."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    answers = {}
    for name, (nr, *args) in calls.items():
        raw = [
            ctypes.c_char_p(a.encode()) if isinstance(a, str) else ctypes.c_long(a)
            for a in args
        ]
        ctypes.set_errno(0)
        result = libc.syscall(ctypes.c_long(nr), *raw)
        err = ctypes.get_errno()
        answers[name] = "ok" if result >= 0 else errno.errorcode.get(err, str(err))
    return answers


def status(pid: str = "self") -> dict[str, str]:
    with open(f"/proc/{pid}/status") as f:
        pairs = (line.split(":", 1) for line in f)
        return {k: v.strip() for k, v in pairs if k in ("Seccomp", "Seccomp_filters", "NoNewPrivs")}


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    return {"answers": probe(event["calls"]), "status": status(), "init": status("1")}


if __name__ == "__main__":
    print(json.dumps({"answers": probe(json.loads(sys.argv[1])), "status": status()}))
