"""Landlock: kernel-enforced file (and, on newer kernels, TCP and signal) rules for the child.

Landlock (Linux 5.13+, ``Documentation/userspace-api/landlock.rst``) lets an
unprivileged process restrict itself and its future children, irrevocably.
The sandbox child calls :func:`restrict_self` after loading its tables:

* files: read-only beneath the read roots, read/write beneath the write
  roots, nothing elsewhere; unlike the audit hook this also binds native
  code (pyarrow's C++ readers, any extension module);
* ABI 4+: no TCP ``bind`` or ``connect`` at all;
* ABI 6+: no signals to, and no abstract UNIX sockets of, processes outside
  the sandbox.

What it does not cover: already-open descriptors, connecting to UNIX
sockets by path on current ABIs, UDP (the network namespace covers both
network cases), and memory or CPU (rlimits do). Called through ``ctypes``
because the standard library has no binding; the syscall numbers 444-446
are the same on every Linux architecture.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterable

_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REMOVE_DIR, REMOVE_FILE, MAKE_CHAR, MAKE_DIR = 1 << 4, 1 << 5, 1 << 6, 1 << 7
MAKE_REG, MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK = 1 << 8, 1 << 9, 1 << 10, 1 << 11
MAKE_SYM, REFER, TRUNCATE, IOCTL_DEV = 1 << 12, 1 << 13, 1 << 14, 1 << 15
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1

_FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV


class _RulesetAttr(ctypes.Structure):
    _fields_ = (
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    )


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


class LandlockUnavailable(OSError):
    """The kernel or platform does not offer Landlock, or setting it up failed."""


def abi_version() -> int:
    """The kernel's Landlock ABI version, or 0 when there is none."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        version = int(libc.syscall(_CREATE_RULESET, None, 0, _CREATE_RULESET_VERSION))
    except (OSError, AttributeError):
        return 0
    return max(version, 0)


def restrict_self(*, read_roots: Iterable[str], write_roots: Iterable[str]) -> int:
    """Confine this process and its children; return the ABI version applied.

    Paths that do not exist are skipped. Raises :class:`LandlockUnavailable`
    if the kernel has no Landlock or a step fails; the process is then not
    restricted.
    """
    abi = abi_version()
    if abi < 1:
        raise LandlockUnavailable("Landlock is not available on this kernel")
    libc = ctypes.CDLL(None, use_errno=True)
    handled_fs = (1 << 13) - 1
    handled_fs |= REFER if abi >= 2 else 0
    handled_fs |= TRUNCATE if abi >= 3 else 0
    handled_fs |= IOCTL_DEV if abi >= 5 else 0
    attr = _RulesetAttr(
        handled_access_fs=handled_fs,
        handled_access_net=(NET_BIND_TCP | NET_CONNECT_TCP) if abi >= 4 else 0,
        scoped=(SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL) if abi >= 6 else 0,
    )
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    ruleset = int(libc.syscall(_CREATE_RULESET, ctypes.byref(attr), size, 0))
    if ruleset < 0:
        raise LandlockUnavailable(f"landlock_create_ruleset: {_errno()}")
    try:
        read = READ_FILE | READ_DIR
        write = read | WRITE_FILE | REMOVE_DIR | REMOVE_FILE | MAKE_DIR | MAKE_REG | MAKE_SYM
        write |= handled_fs & (REFER | TRUNCATE)
        for path in read_roots:
            _add_path(libc, ruleset, path, read)
        for path in write_roots:
            _add_path(libc, ruleset, path, write)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise LandlockUnavailable(f"prctl(PR_SET_NO_NEW_PRIVS): {_errno()}")
        if libc.syscall(_RESTRICT_SELF, ruleset, 0) != 0:
            raise LandlockUnavailable(f"landlock_restrict_self: {_errno()}")
    finally:
        os.close(ruleset)
    return abi


def _add_path(libc: ctypes.CDLL, ruleset: int, path: str, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        if not os.path.isdir(path):
            rights &= _FILE_RIGHTS
        rule = _PathBeneathAttr(allowed_access=rights, parent_fd=fd)
        if libc.syscall(_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.byref(rule), 0) != 0:
            raise LandlockUnavailable(f"landlock_add_rule({path!r}): {_errno()}")
    finally:
        os.close(fd)


def _errno() -> str:
    return os.strerror(ctypes.get_errno())
