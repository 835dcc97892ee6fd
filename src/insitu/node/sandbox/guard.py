"""In-process audit hook that refuses network, processes, native loading and stray files.

Installed in the sandbox child after the approved tables are loaded, before
the custom code is compiled (PEP 578 ``sys.addaudithook``; a hook cannot be
removed once added). It raises ``PermissionError`` for:

* every ``socket.*`` event (create, connect, bind, getaddrinfo, …) and the
  higher-level network modules' events;
* process creation and signalling: ``subprocess.Popen``, ``os.system``,
  ``os.exec*``, ``os.spawn*``, ``os.posix_spawn*``, ``os.fork*``, ``os.kill*``;
* ``ctypes.*`` (no foreign functions, no loading libraries), ``sqlite3.*``
  (it opens files natively), tracing and profiling hooks, ``gc`` object
  walks, ``resource.setrlimit``;
* ``open`` of a path outside the read roots (the approved table files, the
  Python installation, the run's temporary directory), any write outside the
  write roots (the temporary directory), and listing or changing files
  outside them.

What it does not do: it sees only what Python reports. Native code (an
extension module, a library reading files in C++) acts without events, and
a determined attacker in pure Python may find a gap. It is a guard rail
against accidents and casual misuse; the kernel layers (network namespace,
Landlock, rlimits) are the boundary.
"""

from __future__ import annotations

import os
import pathlib
import stat
import sys
from collections.abc import Callable, Iterable
from typing import Any

AuditHook = Callable[[str, tuple[Any, ...]], None]

REFUSED_PREFIXES = (
    "socket.",
    "subprocess.",
    "os.system",
    "os.exec",
    "os.spawn",
    "os.posix_spawn",
    "os.fork",
    "os.kill",
    "signal.pthread_kill",
    "pty.",
    "ctypes.",
    "sqlite3.",
    "webbrowser.",
    "urllib.",
    "http.",
    "ftplib.",
    "smtplib.",
    "poplib.",
    "imaplib.",
    "nntplib.",
    "telnetlib.",
    "sys.settrace",
    "sys.setprofile",
    "sys._current_frames",
    "gc.get_",
    "resource.setrlimit",
    "resource.prlimit",
)

WRITE_EVENTS = frozenset(
    {
        "os.remove", "os.rmdir", "os.rename", "os.mkdir", "os.chmod", "os.chown",
        "os.link", "os.symlink", "os.truncate", "os.utime", "os.setxattr",
        "os.removexattr", "os.chflags", "os.lchflags", "os.mkfifo", "os.mknod",
        "shutil.rmtree", "shutil.move", "shutil.copyfile", "shutil.copytree",
        "shutil.copymode", "shutil.copystat", "shutil.chown", "shutil.make_archive",
        "shutil.unpack_archive",
    }
)  # fmt: skip

READ_EVENTS = frozenset(
    {"os.listdir", "os.scandir", "os.listxattr", "os.getxattr", "glob.glob", "glob.glob/2"}
)

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC


def path_resolver() -> Callable[[str], str]:
    """A ``realpath`` that binds the ``os`` functions it uses now.

    Follows symbolic links component by component like ``os.path.realpath``
    (non-strict: missing components are taken literally); more than 40 links
    raise ``PermissionError``. Code that later replaces ``os.lstat`` or
    ``os.path`` does not change its answers.
    """
    lstat, readlink, getcwd, is_link = os.lstat, os.readlink, os.getcwd, stat.S_ISLNK
    denied, os_error = PermissionError, OSError

    def resolve(path: str) -> str:
        if not path.startswith("/"):
            path = getcwd() + "/" + path
        todo = [p for p in path.split("/") if p and p != "."]
        done: list[str] = []
        hops = 0
        while todo:
            part = todo.pop(0)
            if part == "..":
                if done:
                    done.pop()
                continue
            candidate = "/" + "/".join([*done, part])
            try:
                mode = lstat(candidate).st_mode
            except os_error:
                done.append(part)  # does not exist (yet): taken literally
                continue
            if not is_link(mode):
                done.append(part)
                continue
            hops += 1
            if hops > 40:
                raise denied("sandbox: too many symbolic links")
            target = readlink(candidate)
            if target.startswith("/"):
                done = []
            todo = [p for p in target.split("/") if p and p != "."] + todo
        return "/" + "/".join(done)

    return resolve


def make_hook(*, read_roots: Iterable[str], write_roots: Iterable[str]) -> AuditHook:
    """Build the hook; roots are resolved now, and writable roots are also readable.

    Everything the hook calls is bound here as a local (builtins and ``os``
    functions included) and paths are resolved by its own symlink walk, so
    code that later replaces ``builtins.any`` or ``os.lstat`` does not change
    its answers.
    """
    encoding = sys.getfilesystemencoding()
    denied = PermissionError
    type_of, is_instance, str_, bytes_, int_ = type, isinstance, str, bytes, int
    text_types = (str, bytes, os.PathLike)
    path_types = (pathlib.PurePosixPath, pathlib.PosixPath)
    write = tuple(os.path.realpath(r) for r in write_roots)
    read = tuple(os.path.realpath(r) for r in read_roots) + write
    refused, write_events, read_events = REFUSED_PREFIXES, WRITE_EVENTS, READ_EVENTS
    write_flags = _WRITE_FLAGS

    resolve = path_resolver()

    def inside(path: Any, roots: tuple[str, ...]) -> bool:
        if type_of(path) is int_ or path is None:
            return True  # an already-open descriptor, or the default (cwd)
        if type_of(path) in path_types:
            path = str_.__str__(path.__str__())
        elif type_of(path) is bytes_:
            path = bytes_.decode(path, encoding, "surrogateescape")
        elif type_of(path) is not str_:
            return False  # a user-defined path-like could answer differently next time
        full = resolve(path)
        for root in roots:  # noqa: SIM110 - builtins such as any() may have been replaced
            if full == root or full.startswith(root + "/"):
                return True
        return False

    def all_inside(args: tuple[Any, ...], roots: tuple[str, ...]) -> bool:
        for arg in args:  # noqa: SIM110 - as above
            if is_instance(arg, text_types) and not inside(arg, roots):
                return False
        return True

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            path, mode, flags = args
            writing = type_of(flags) is int_ and flags & write_flags != 0
            if type_of(mode) is str_:
                for c in "wax+":
                    writing = writing or c in mode
            if not inside(path, write if writing else read):
                raise denied(f"sandbox: opening {path!r} is not allowed")
        elif event.startswith(refused):
            raise denied(f"sandbox: {event} is not allowed")
        elif event in write_events and not all_inside(args, write):
            raise denied(f"sandbox: {event} outside the working directory")
        elif event in read_events and not all_inside(args, read):
            raise denied(f"sandbox: {event} outside the readable paths")

    return hook


def system_read_roots() -> list[str]:
    """Read-only paths every run may read: the Python installation and system libraries.

    Holds nothing private on a node: the interpreter, site-packages, shared
    libraries and time-zone data.
    """
    import site

    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    roots.update(site.getsitepackages())
    roots.update(
        p
        for p in ("/usr/lib", "/usr/lib64", "/lib", "/lib64", "/usr/share/zoneinfo")
        if os.path.isdir(p)
    )
    roots.update(p for p in ("/etc/ld.so.cache", "/etc/localtime") if os.path.exists(p))
    return sorted(os.path.realpath(r) for r in roots)
