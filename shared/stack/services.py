"""Background processes by name: ``logs/<name>.log`` and ``pids/<name>.pid``.

A pid file holds the pid and the process start time (from /proc), so a pid recycled by an
unrelated process after a reboot or crash is never mistaken for ours and never signalled.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from touchline.shared.stack.layout import Layout

STOP_GRACE_SECONDS = 10.0


def _start_time(pid: int) -> str | None:
    """Field 22 of /proc/<pid>/stat; None when the process is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces: split after its closing parenthesis.
    fields = stat.rpartition(")")[2].split()
    return None if fields[0] == "Z" else fields[19]


def _reap(pid: int) -> None:
    """Collect our own exited child so it does not linger as a zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def pid_of(layout: Layout, name: str) -> int | None:
    """The live pid recorded for ``name``, or None (stale pid files are removed)."""
    path = layout.pid_file(name)
    try:
        pid_text, _, started = path.read_text().strip().partition(" ")
        pid = int(pid_text)
    except (OSError, ValueError):
        return None
    _reap(pid)
    current = _start_time(pid)
    if current is not None and started in ("", current):
        return pid
    path.unlink(missing_ok=True)
    return None


def start(
    layout: Layout,
    name: str,
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
) -> tuple[int, bool]:
    """Start ``argv`` detached unless ``name`` already runs. Returns (pid, started_now)."""
    running = pid_of(layout, name)
    if running is not None:
        return running, False
    executable = shutil.which(argv[0]) or argv[0]
    log = layout.log(name)
    with open(log, "ab") as out, open(os.devnull, "rb") as devnull:
        out.write(f"\n==== {time.strftime('%F %T')} starting: {' '.join(argv)}\n".encode())
        out.flush()
        # posix_spawn with setsid: the process gets its own session (Ctrl-C in the
        # launching shell does not reach it) and no Popen object warns at our exit.
        pid = os.posix_spawn(
            executable,
            list(argv),
            dict(env if env is not None else os.environ),
            file_actions=[
                (os.POSIX_SPAWN_DUP2, devnull.fileno(), 0),
                (os.POSIX_SPAWN_DUP2, out.fileno(), 1),
                (os.POSIX_SPAWN_DUP2, out.fileno(), 2),
            ],
            setsid=True,
        )
    layout.pid_file(name).write_text(f"{pid} {_start_time(pid) or ''}\n")
    return pid, True


def alive(pid: int) -> bool:
    _reap(pid)
    return _start_time(pid) is not None


def stop(layout: Layout, name: str, *, grace: float = STOP_GRACE_SECONDS) -> bool:
    """SIGTERM the recorded pid, SIGKILL it after ``grace`` seconds. True if it ran."""
    pid = pid_of(layout, name)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if alive(pid):
        os.kill(pid, signal.SIGKILL)
        while alive(pid):
            time.sleep(0.05)
    layout.pid_file(name).unlink(missing_ok=True)
    return True


def status(layout: Layout) -> dict[str, int | None]:
    """Every name that has a pid file, with its live pid or None."""
    names = sorted(path.stem for path in layout.pids_dir.glob("*.pid"))
    return {name: pid_of(layout, name) for name in names}
