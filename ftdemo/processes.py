"""Facts about processes: is one alive (to tell a dead app's runs from live ones), how much memory this
one has used at most (benchmarks)."""

from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    try:  # a zombie (exited, not yet reaped) is not alive
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def peak_rss_mb() -> float:
    """The most memory this process has had resident, in MiB, since it started.

    Linux's VmHWM, not getrusage's ru_maxrss: a process started by fork + exec (subprocess, a spawned
    multiprocessing child) inherits its parent's ru_maxrss, so a small child of a large parent would
    report the parent's peak. Elsewhere ru_maxrss (bytes on macOS)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024
