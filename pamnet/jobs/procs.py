"""Worker processes: start one in its own session, tell whether it still lives, signal it.

A pid alone is not an identity: after a reboot or a long time the same number can
belong to another process. Linux records each process's start time (clock ticks
after boot, field 22 of /proc/<pid>/stat); we store it with the pid and call the
worker alive only while both match. Without /proc (macOS) only the pid is checked.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

_children: dict[int, subprocess.Popen] = {}  # started here; polled so they do not linger as zombies


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return []
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields from 3 (state) on; comm may hold ')'


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks after boot, or None where /proc is missing."""
    fields = _stat(pid)
    return int(fields[19]) if fields else None


def is_alive(pid: int, started: int | None = None) -> bool:
    """True while process `pid` runs and (when known) started at `started`; zombies are dead."""
    child = _children.get(pid)
    if child is not None and child.poll() is not None:
        _children.pop(pid, None)
        return False
    fields = _stat(pid)
    if fields is None:  # no /proc: ask the kernel about the pid only
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    if not fields or fields[0] in ("Z", "X"):
        return False
    return started is None or int(fields[19]) == started


def spawn(args: list[str], log_path: Path, env: dict, cwd: Path) -> subprocess.Popen:
    """Start `args` in a new session (its own process group), output appended to log_path."""
    for pid in [p for p, c in _children.items() if c.poll() is not None]:
        _children.pop(pid, None)
    with open(log_path, "ab") as log:
        child = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
    _children[child.pid] = child
    return child


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (children, grandchildren...), from /proc; [] without it.

    torchrun starts each rank in a session of its own, so the launcher's process group
    does not hold them: only the parent links do, and only while the launcher lives.
    """
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if entry.isdecimal():
            fields = _stat(int(entry))
            if fields and len(fields) > 1:
                children.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in out:
                out.append(child)
                todo.append(child)
    return out


def signal_group(pid: int, sig: int = signal.SIGTERM) -> bool:
    """Send `sig` to the worker's process group and to every process below it (torchrun's
    ranks live in sessions of their own); False if the worker is gone."""
    below = descendants(pid)  # before the signal: a killed launcher's ranks are orphaned
    try:
        os.killpg(pid, sig)
        found = True
    except ProcessLookupError:
        found = False
    except PermissionError:
        try:
            os.kill(pid, sig)
            found = True
        except ProcessLookupError:
            found = False
    for child in below:
        for send in (os.killpg, os.kill):
            try:
                send(child, sig)
            except (ProcessLookupError, PermissionError):
                pass
    return found or bool(below)
