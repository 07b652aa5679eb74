"""The seccomp filter of every execution environment, built with libseccomp.

Modelled on the default profile of Docker, containerd and runc (moby's
``profiles/seccomp/default.json``), as that profile stands for a process holding no capability
— which is what an environment is: an allowlist, everything else failing with ``EPERM``.

Choices, each the profile's unless said:

* **Allowlist, default ERRNO(EPERM).** A call the list does not name fails; nothing is killed.
  A denylist would let every system call added to a later kernel through.
* **Denied outright** (not in the list): the kernel keyrings (``add_key``, ``request_key``,
  ``keyctl``: keyrings are not namespaced, so two environments of one uid — or an environment
  and a host user of that uid — would share them), every mount call (``mount``, ``umount2``,
  ``pivot_root``, ``fsopen``/``fsmount``/``fsconfig``/``fspick``, ``open_tree``,
  ``move_mount``, ``mount_setattr``), ``unshare`` and ``setns``, ``bpf``,
  ``perf_event_open``, ``userfaultfd``, ``kexec_*``, module loading, ``io_uring_*``,
  ``open_by_handle_at``/``name_to_handle_at``, ``acct``, ``swapon``/``swapoff``,
  ``reboot``, setting the clock (``settimeofday``, ``clock_settime``, and — stricter than the
  profile — ``adjtimex``/``clock_adjtime``, whose read and write are one call), ``quotactl``,
  ``syslog``, ``vhangup``, ``iopl``/``ioperm``, ``chroot``, ``sethostname``,
  ``lookup_dcookie``, ``fanotify_init``, and the obsolete ``uselib``, ``ustat``, ``sysfs``,
  ``_sysctl``, ``nfsservctl``, ``create_module``...
* **ptrace and its relatives are denied** (``ptrace``, ``process_vm_readv``/``writev``,
  ``kcmp``, ``pidfd_getfd``, ``process_madvise``), stricter than the profile, which allows the
  first three on kernels from 4.8. An environment has no debugger to run, and its init runs as
  the same user: nothing inside should read or steer another process's memory.
* **Argument checks:** ``clone`` only without namespace flags; ``clone3`` answers ``ENOSYS``
  (its flags sit behind a pointer, which a filter cannot read), so glibc falls back to
  ``clone``; ``personality`` only with the values the profile allows (Linux, ``ADDR_NO_RANDOMIZE``
  as ``setarch -R`` sets it, ``UNAME26``... and the query ``0xffffffff``); ``socket`` in the
  profile's address families (no ``AF_ALG``, no ``AF_VSOCK``).
* **Architecture:** the filter is for the native ABI only; a call made through another one
  (x32 on x86-64, i386 through ``int 0x80``) fails with EPERM like any unlisted call.

Snapshot starts need two more calls, in the template only (see :mod:`shoal.runtime.restore`):
each restored environment is a fork of the template that makes a user namespace and mounts
its own ``/tmp`` and ``/proc``. The template's filter (:func:`build` with ``restore=True``)
allows ``unshare`` with exactly that set of namespace flags, ``mount`` with exactly those two
sets of mount flags (never a bind, a move or a remount) and ``sethostname``; a restored
environment's PID 1 stacks the strict filter on top once those are done, and its worker
inherits both before user code runs again. (The fork between them keeps the template's: it
runs no user code and lives in the template's PID namespace, out of the environment's sight.)

libseccomp compiles the rules into BPF once per server (:func:`programs`); the environments
load those bytes with one ``prctl`` (:mod:`shoal.runtime.seccomp`), so libseccomp never has
to exist inside an environment's minimal root.
"""

from __future__ import annotations

import errno
import functools
import tempfile
from dataclasses import dataclass

import pyseccomp as sc

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
NAMESPACE_FLAGS = (
    CLONE_NEWNS
    | CLONE_NEWCGROUP
    | CLONE_NEWUTS
    | CLONE_NEWIPC
    | CLONE_NEWUSER
    | CLONE_NEWPID
    | CLONE_NEWNET
)
# What a restored environment unshares (shoal.runtime.restore.NAMESPACES), and the flags of
# its two mounts (a tmpfs on /tmp: nosuid,nodev; a proc on /proc: nosuid,nodev,noexec).
RESTORE_NAMESPACES = (
    CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET
)
MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x2, 0x4, 0x8
RESTORE_MOUNT_FLAGS = (MS_NOSUID | MS_NODEV, MS_NOSUID | MS_NODEV | MS_NOEXEC)

PERSONALITIES = (0x0, 0x0008, 0x20000, 0x20008, 0xFFFFFFFF)
# Address families up to AF_ALG (38) and the profile's ones after it (AF_NFC, AF_KCM,
# AF_QIPCRTR, AF_SMC, AF_XDP, AF_MCTP); AF_ALG and AF_VSOCK (40) are left out.
AF_ALG = 38
SOCKET_FAMILIES_AFTER_ALG = (39, 41, 42, 43, 44, 45)

# The profile's unconditional allowlist, less what is denied above. Names this host's
# libseccomp does not know are skipped (they then fail with EPERM like any unlisted call).
ALLOWED = """
accept accept4 access alarm arch_prctl bind brk cachestat capget capset chdir chmod chown
chown32 clock_getres clock_getres_time64 clock_gettime clock_gettime64 clock_nanosleep
clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2 dup3
epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait
epoll_wait_old eventfd eventfd2 execve execveat exit exit_group faccessat faccessat2
fadvise64 fadvise64_64 fallocate fanotify_mark fchdir fchmod fchmodat fchmodat2 fchown
fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr flock fork fremovexattr
fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64 futex
futex_requeue futex_time64 futex_wait futex_waitv futex_wake futimesat getcpu getcwd
getdents getdents64 getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups
getgroups32 getitimer getpeername getpgid getpgrp getpid getppid getpriority getrandom
getresgid getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage getsid
getsockname getsockopt get_thread_area gettid gettimeofday getuid getuid32 getxattr
getxattrat inotify_add_watch inotify_init inotify_init1 inotify_rm_watch io_cancel ioctl
io_destroy io_getevents io_pgetevents io_pgetevents_time64 ioprio_get ioprio_set io_setup
io_submit ipc kill landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown
lchown32 lgetxattr link linkat listen listmount listxattr listxattrat llistxattr _llseek
lremovexattr lseek lsetxattr lstat lstat64 madvise map_shadow_stack membarrier
memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall mmap
mmap2 modify_ldt mprotect mq_getsetattr mq_notify mq_open mq_timedreceive
mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap mseal msgctl
msgget msgrcv msgsnd msync munlock munlockall munmap nanosleep newfstatat _newselect open
openat openat2 pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free
pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv preadv2 prlimit64
process_mrelease pselect6 pselect6_time64 pwrite64 pwritev pwritev2 read readahead
readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages
removexattr removexattrat rename renameat renameat2 restart_syscall rmdir rseq
rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend
rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr
sched_getparam sched_get_priority_max sched_get_priority_min sched_getscheduler
sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity sched_setattr
sched_setparam sched_setscheduler sched_yield seccomp select semctl semget semop
semtimedop semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto setfsgid
setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer setpgid
setpriority setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid
setreuid32 setrlimit set_robust_list setsid setsockopt set_thread_area set_tid_address
setuid setuid32 setxattr setxattrat shmat shmctl shmdt shmget shutdown sigaltstack
signalfd signalfd4 sigprocmask sigreturn socketcall socketpair splice stat stat64 statfs
statfs64 statmount statx symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill
time timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64
timer_settime timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64
timerfd_settime timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname
unlink unlinkat uretprobe utime utimensat utimensat_time64 utimes vfork vmsplice wait4
waitid waitpid write writev
""".split()

ENOSYS = ("clone3",)


@dataclass(frozen=True)
class Programs:
    """The two compiled filters (classic BPF, ``struct sock_filter`` array bytes)."""

    strict: bytes  # every environment's processes, before any user code
    template: bytes  # a snapshot template's worker: strict + what a restore needs


def _number(name: str) -> int | None:
    nr = sc.resolve_syscall(sc.Arch.NATIVE, name)
    return None if nr == -1 else nr  # -1: unknown to this libseccomp (__NR_SCMP_ERROR)


def _allow(f: sc.SyscallFilter, name: str, *args: sc.Arg) -> None:
    nr = _number(name)
    if nr is not None:
        f.add_rule(sc.ALLOW, nr, *args)


def _rules(f: sc.SyscallFilter) -> None:
    for name in ALLOWED:
        _allow(f, name)
    for name in ENOSYS:
        f.add_rule(sc.ERRNO(errno.ENOSYS), name)
    _allow(f, "clone", sc.Arg(0, sc.MASKED_EQ, NAMESPACE_FLAGS, 0))
    for persona in PERSONALITIES:
        _allow(f, "personality", sc.Arg(0, sc.EQ, persona))
    _allow(f, "socket", sc.Arg(0, sc.LT, AF_ALG))
    for family in SOCKET_FAMILIES_AFTER_ALG:
        _allow(f, "socket", sc.Arg(0, sc.EQ, family))


def _restore_rules(f: sc.SyscallFilter) -> None:
    _allow(f, "unshare", sc.Arg(0, sc.EQ, RESTORE_NAMESPACES))
    for flags in RESTORE_MOUNT_FLAGS:
        _allow(f, "mount", sc.Arg(3, sc.EQ, flags))
    _allow(f, "sethostname")


def build(restore: bool = False) -> bytes:
    """Compile the profile (and, for a snapshot template, the restore calls) to BPF."""
    f = sc.SyscallFilter(sc.ERRNO(errno.EPERM))
    # A call through a foreign ABI (x32, i386) fails like an unlisted one, never kills.
    f.set_attr(sc.Attr.ACT_BADARCH, sc.ERRNO(errno.EPERM))
    # A binary tree of syscall numbers rather than a chain: a few comparisons per call.
    f.set_attr(sc.Attr.CTL_OPTIMIZE, 2)
    _rules(f)
    if restore:
        _restore_rules(f)
    with tempfile.TemporaryFile() as out:
        f.export_bpf(out)
        out.seek(0)
        return out.read()


@functools.cache
def programs() -> Programs:
    """Both filters, compiled once per server process (~30 ms each on two cores)."""
    return Programs(strict=build(), template=build(restore=True))
