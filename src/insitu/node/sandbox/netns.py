"""Find a way to start the child in a fresh network namespace, if this host allows one.

A new network namespace has only a loopback interface, and that one is down:
no connection of any kind (TCP, UDP, DNS, ICMP) leaves it, whatever code runs
inside, native code included. It does not stop UNIX sockets reached by path.

We wrap the command with util-linux ``unshare`` rather than calling
``os.unshare`` in ``preexec_fn``: ``os.unshare`` only exists on Python 3.12+,
and ``preexec_fn`` is unsafe in a threaded server such as the node. ``unshare``
execs the child in place, so the child keeps its pid and process group.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys

_CANDIDATES = (
    ("--net",),  # root or CAP_SYS_ADMIN
    ("--user", "--map-current-user", "--net"),  # unprivileged user namespaces
    ("--user", "--map-root-user", "--net"),  # older util-linux without --map-current-user
)


@functools.cache
def network_namespace_prefix() -> tuple[str, ...] | None:
    """The command prefix that starts a program without network, or ``None``.

    Tried once per process: each candidate runs ``true`` under ``unshare``.
    """
    if not sys.platform.startswith("linux"):
        return None
    unshare = shutil.which("unshare")
    true = shutil.which("true")
    if unshare is None or true is None:
        return None
    for options in _CANDIDATES:
        prefix = (unshare, *options, "--")
        try:
            done = subprocess.run(
                [*prefix, true], capture_output=True, timeout=10, check=False, env={}
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if done.returncode == 0:
            return prefix
    return None
