"""Shutdown: a killed batch leaves no worker behind; SIGTERM and Ctrl-C end cleanly."""

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import BASELINE, ROOT

GRACE = 5.0  # seconds within which every worker must be gone


def children(pid: int) -> set[int]:
    """Live (not zombie) descendants of ``pid``."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                parents[int(entry)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def start_batch(tmp_path: Path, backend: str) -> subprocess.Popen:
    economy = tmp_path / "economy.toml"
    economy.write_text(f'extends = "{BASELINE}"\n[population]\nfirms = 3000\n[run]\nyears = 5\n')
    cmd = [sys.executable, "-m", "sim.app.cli", "compare", str(economy), "--reps", "400", "--workers", "2"]
    cmd += ["--quiet", "--out", str(tmp_path / "out"), "--backend", backend]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for_workers(proc: subprocess.Popen, at_least: int, runs: Path) -> set[int]:
    deadline = time.time() + 120
    while time.time() < deadline:
        if runs.is_dir() and any(runs.iterdir()) and len(children(proc.pid)) >= at_least:
            return children(proc.pid)
        time.sleep(0.1)
    raise AssertionError("the batch never started its workers")


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
@pytest.mark.parametrize("backend", ["local", "dask"])
def test_a_killed_batch_parent_leaves_no_process_and_no_open_pipe(tmp_path, backend, how):
    if backend == "dask":
        pytest.importorskip("dask.distributed")
    proc = start_batch(tmp_path, backend)
    workers = wait_for_workers(proc, 2, tmp_path / "out" / "runs")
    os.kill(proc.pid, how)
    deadline = time.time() + GRACE
    while time.time() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.1)
    left = {w for w in workers if _alive(w)}
    assert not left, f"workers still alive {GRACE} s after the parent got {how.name}: {left}"
    ready, _, _ = select.select([proc.stdout], [], [], GRACE)
    assert ready and proc.stdout.read() == b"", "nobody holds the parent's stdout open"
    proc.wait(timeout=GRACE)
    if how == signal.SIGTERM:
        err = proc.stderr.read().decode()
        assert "Traceback" not in err and "interrupted" in err, err


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("backend", ["local", "dask"])
def test_ctrl_c_prints_one_clean_line_and_keeps_finished_runs(tmp_path, backend):
    if backend == "dask":
        pytest.importorskip("dask.distributed")
    economy = tmp_path / "economy.toml"
    economy.write_text(f'extends = "{BASELINE}"\n[population]\nfirms = 3000\n[run]\nyears = 5\n')
    cmd = [sys.executable, "-m", "sim.app.cli", "compare", str(economy), "--reps", "400", "--workers", "2"]
    cmd += ["--quiet", "--out", str(tmp_path / "out"), "--backend", backend]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    wait_for_workers(proc, 2, tmp_path / "out" / "runs")
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole process group
    _, err = proc.communicate(timeout=60)
    lines = err.decode().strip().splitlines()
    assert proc.returncode == 130, lines
    assert len(lines) == 1 and lines[0].startswith("interrupted: finished runs are kept"), lines
    assert any((tmp_path / "out" / "runs").iterdir())
