"""Whether a process is still running, by pid (no Django: the development tooling uses it too).

Metrics remove the files of processes that have ended; ``tools/devstack`` checks its servers' pid files.
"""

from __future__ import annotations

import os


def pid_alive(pid: int | None) -> bool:
    """True while a process with this pid exists (signal 0 only asks, it sends nothing)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True
