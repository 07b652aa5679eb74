"""The seccomp profile's tables and the compiled programs (the process tests load them)."""

from __future__ import annotations

import struct

import pyseccomp
import pytest

from shoal.runtime.seccomp import Profiles, Program
from shoal.sandbox import seccomp

# Every call the issue names, and the ones this profile is stricter about than runc's.
DENIED = """
add_key request_key keyctl mount umount umount2 pivot_root move_mount open_tree fsopen fsmount
fsconfig fspick mount_setattr unshare setns clone3 ptrace bpf perf_event_open userfaultfd
kexec_load kexec_file_load open_by_handle_at name_to_handle_at init_module finit_module
delete_module io_uring_setup io_uring_enter io_uring_register personality acct swapon swapoff
reboot settimeofday clock_settime adjtimex clock_adjtime quotactl quotactl_fd lookup_dcookie
syslog vhangup iopl ioperm create_module get_kernel_syms query_module nfsservctl uselib ustat
sysfs _sysctl kcmp process_vm_readv process_vm_writev process_madvise fanotify_init
pidfd_getfd chroot sethostname setdomainname
""".split()


@pytest.mark.parametrize("name", DENIED)
def test_a_denied_call_is_not_allowed_unconditionally(name: str) -> None:
    assert name not in seccomp.ALLOWED


def test_no_call_is_listed_twice() -> None:
    assert len(set(seccomp.ALLOWED)) == len(seccomp.ALLOWED)


def test_both_programs_compile_and_load_as_bpf() -> None:
    programs = seccomp.programs()
    assert programs is seccomp.programs()  # once per process
    strict, template = programs.strict, programs.template
    assert len(strict) % 8 == 0 and len(template) > len(strict)
    profiles = Profiles(strict, template)  # what the fork server builds from them
    assert profiles.strict.code == strict


def test_a_program_that_is_not_bpf_is_refused() -> None:
    for bad in (b"", b"x" * 9, b"\0" * 8 * 4097):
        with pytest.raises(ValueError, match="not a BPF program"):
            Program(bad)


def test_the_program_checks_the_architecture_first() -> None:
    """libseccomp's prologue: load seccomp_data.arch, compare with this ABI's AUDIT_ARCH."""
    code = seccomp.programs().strict
    first, second = struct.unpack_from("<HBBI", code, 0), struct.unpack_from("<HBBI", code, 8)
    assert first == (0x20, 0, 0, 4)  # BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)
    assert second[0] == 0x15  # BPF_JMP | BPF_JEQ | BPF_K
    assert second[3] == pyseccomp.system_arch()  # AUDIT_ARCH_X86_64 here
