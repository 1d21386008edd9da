"""Results folders appear whole or not at all: kills at every stage, stale files, locks, checksums.

A kill test runs a writer in a subprocess that SIGKILLs itself at the n-th call of one function
(a stage: simulating, storing a run, writing a table, drawing a chart, just before the
manifest), into a folder holding an earlier complete run. Afterwards the folder must be the
earlier run intact, or be refused by ``ladder plot`` as incomplete; never a mix. Running the
command again then leaves exactly the new run's files.
"""

import contextlib
import io
import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sim.app.cli import main
from sim.core.errors import InputError
from sim.io.folder import MANIFEST, ResultsFolder, verified
from sim.io.run_store import RUNS_DIR
from tests.conftest import BASELINE, ROOT
from tests.test_calibration import calibration_file
from tests.test_sensitivity import write_experiment

# Run the CLI with one function replaced by a wrapper that SIGKILLs the process at its n-th call.
DRIVER = """
import importlib, os, signal, sys
module_name, attr, nth = sys.argv[1], sys.argv[2], int(sys.argv[3])
owner = importlib.import_module(module_name)
*path, name = attr.split(".")
for part in path:
    owner = getattr(owner, part)
original = getattr(owner, name)
calls = [0]
def killing(*args, **kwargs):
    calls[0] += 1
    if calls[0] == nth:
        os.kill(os.getpid(), signal.SIGKILL)
    return original(*args, **kwargs)
setattr(owner, name, killing)
from sim.app.cli import main
sys.exit(main(sys.argv[4:]))
"""


def cli(*argv: str) -> tuple[int, list[str]]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(list(argv))
    return code, err.getvalue().strip().splitlines()


def killed(stage: tuple[str, str, int], argv: list[str]) -> int:
    result = subprocess.run(
        [sys.executable, "-c", DRIVER, *map(str, stage), *argv], cwd=ROOT, capture_output=True, text=True
    )
    return result.returncode


def top_files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")}


def economy(tmp: Path) -> Path:
    path = tmp / "economy.toml"
    path.write_text(
        f'extends = "{BASELINE}"\n[population]\nfirms = 300\n[run]\nstart_year = 2024\nyears = 2\n'
    )
    award = tmp / "award.toml"
    award.write_text(
        '[meta]\nname = "award"\n[levers.award]\nitems = [{tier = "srdi", level = "city", amount = 50}]\n'
    )
    return path


def award_compare(tmp: Path, reps: int) -> list[str]:
    """``ladder compare`` of the award package on the tiny economy (without batch options)."""
    return ["compare", "--economy", str(tmp / "economy.toml"), str(tmp / "award.toml"), "--reps", str(reps)]


def sweep_file(tmp: Path) -> Path:
    path = tmp / "sweep.toml"
    path.write_text(
        f'[experiment]\nname = "s"\nscenarios = ["{tmp / "economy.toml"}"]\nreplications = 2\nyears = 2\n'
        '[design]\nmethod = "grid"\n[[design.parameters]]\npath = "population.firms"\nvalues = [200, 300]\n'
    )
    return path


def commands(tmp: Path, out: Path) -> dict[str, tuple[list[str], list[str]]]:
    """Per writer: the earlier run's command and the new (different) run's command."""
    economy(tmp)
    sens = write_experiment(tmp)
    (tmp / "cal").mkdir(exist_ok=True)
    first_cal = calibration_file(tmp / "cal", 80, evaluations=3, replications=1)
    second_cal = first_cal.with_name("cal-2.toml")
    second_cal.write_text(first_cal.read_text().replace("max_evaluations = 3", "max_evaluations = 4"))
    batch = ["--workers", "1", "--quiet", "--out", str(out)]
    return {
        "run": (
            ["run", str(tmp / "economy.toml"), "--seed", "1", "--ledger", "firms", "--out", str(out)],
            ["run", str(tmp / "economy.toml"), "--seed", "2", "--out", str(out)],
        ),
        "compare": ([*award_compare(tmp, 2), *batch], [*award_compare(tmp, 3), *batch]),
        "sweep": (
            ["sweep", str(sweep_file(tmp)), "--reps", "1", *batch],
            ["sweep", str(sweep_file(tmp)), *batch],
        ),
        "sensitivity": (
            ["sensitivity", str(sens), "--samples", "2", *batch],
            ["sensitivity", str(sens), "--samples", "3", *batch],
        ),
        "calibrate": (
            ["calibrate", str(first_cal), "--workers", "1", "--quiet", "--out", str(out)],
            ["calibrate", str(second_cal), "--workers", "1", "--quiet", "--out", str(out)],
        ),
    }


STAGES = {
    "run": [
        ("sim.core.model", "LadderModel.step", 2),  # simulating
        ("sim.io.results", "write_parquet", 3),  # writing the tables
        ("sim.plots.charts", "plot_tiers", 1),  # drawing a chart
        ("sim.io.folder", "checksums", 1),  # just before the manifest
    ],
    "compare": [
        ("sim.batch.runner", "store", 2),  # storing a run
        ("sim.io.results", "write_csv", 2),
        ("sim.plots.charts", "_save", 2),
        ("sim.io.folder", "checksums", 1),
    ],
    "sweep": [
        ("sim.batch.runner", "store", 2),
        ("sim.io.results", "write_parquet", 2),
        ("sim.io.folder", "checksums", 1),
    ],
    "calibrate": [
        ("sim.batch.runner", "store", 1),  # fitting
        ("sim.plots.charts", "plot_objective", 1),
        ("sim.io.folder", "checksums", 1),
    ],
    "sensitivity": [
        ("sim.batch.runner", "store", 2),
        ("sim.io.results", "write_csv", 1),
        ("sim.io.folder", "checksums", 1),
    ],
}
CASES = [(writer, stage) for writer, stages in STAGES.items() for stage in stages]


@pytest.fixture(scope="module")
def earlier(tmp_path_factory):
    """Each writer's earlier complete run, made once; a case works on a copy."""
    base = tmp_path_factory.mktemp("earlier")
    made = {}
    for writer, (first, _) in commands(base, base / "out").items():
        out = base / f"{writer}-out"
        first = [str(out) if a == str(base / "out") else a for a in first]
        assert cli(*first)[0] == 0
        made[writer] = out
    return base, made


@pytest.mark.parametrize(("writer", "stage"), CASES, ids=[f"{w}-{s[1]}-{s[2]}" for w, s in CASES])
def test_a_killed_writer_leaves_the_earlier_run_or_a_refused_folder_never_a_mix(
    tmp_path, earlier, writer, stage
):
    base, made = earlier
    out = tmp_path / "out"
    shutil.copytree(made[writer], out)
    before = top_files(out)
    _, second = commands(tmp_path, out)[writer]
    assert killed(stage, second) == -signal.SIGKILL, "the stage was reached"
    if (out / MANIFEST).is_file():
        verified(out)
        assert top_files(out) == before, "a manifest means the earlier run, intact"
    else:
        code, lines = cli("plot", str(out))
        assert code == 2 and len(lines) == 1 and "incomplete" in lines[0], lines
        with pytest.raises(InputError, match="incomplete"):
            verified(out)
    assert cli(*second)[0] == 0, "the same command again completes (resuming from runs/)"
    manifest = verified(out)
    assert set(top_files(out)) == set(manifest["files"]) | {MANIFEST}, "no stale file of the earlier run"


def test_a_folder_written_by_another_kind_of_command_keeps_none_of_its_files(tmp_path):
    economy(tmp_path)
    out = tmp_path / "out"
    assert (
        cli(
            "sweep", str(sweep_file(tmp_path)), "--reps", "1", "--workers", "1", "--quiet", "--out", str(out)
        )[0]
        == 0
    )
    assert (out / "runs.parquet").is_file()
    compare = award_compare(tmp_path, 1)
    assert cli(*compare, "--workers", "1", "--quiet", "--out", str(out))[0] == 0
    assert not (out / "runs.parquet").exists() and (out / "summary.parquet").is_file()
    assert json.loads((out / MANIFEST).read_text())["kind"] == "compare"


def test_a_second_writer_into_a_locked_folder_is_refused_with_one_line(tmp_path):
    economy(tmp_path)
    out = tmp_path / "out"
    with ResultsFolder(out, keep=(RUNS_DIR,)):
        code, lines = cli(*award_compare(tmp_path, 1), "--workers", "1", "--quiet", "--out", str(out))
    assert code == 2 and len(lines) == 1 and "another ladder process" in lines[0], lines
    assert not (out / RUNS_DIR).exists(), "refused before any run"


def test_an_unusable_or_foreign_out_folder_is_refused_before_the_simulation(tmp_path):
    scenario = economy(tmp_path)
    foreign = tmp_path / "documents"
    foreign.mkdir()
    (foreign / "thesis.docx").write_text("mine")
    code, lines = cli("run", str(scenario), "--out", str(foreign))
    assert code == 2 and len(lines) == 1 and "holds no ladder results" in lines[0], lines
    assert (foreign / "thesis.docx").read_text() == "mine"
    a_file = tmp_path / "file"
    a_file.write_text("x")
    code, lines = cli("run", str(scenario), "--out", str(a_file / "sub"))
    assert code == 2 and len(lines) == 1 and "cannot write" in lines[0], lines


def test_plot_refuses_a_truncated_or_foreign_table_and_a_missing_run(tmp_path):
    economy(tmp_path)
    out = tmp_path / "out"
    compare = award_compare(tmp_path, 2)
    assert cli(*compare, "--workers", "1", "--quiet", "--out", str(out))[0] == 0
    assert cli("plot", str(out))[0] == 0
    summary = (out / "summary.parquet").read_bytes()
    (out / "summary.parquet").write_bytes(summary[: len(summary) // 2])
    code, lines = cli("plot", str(out))
    assert code == 2 and len(lines) == 1 and "summary.parquet" in lines[0], lines
    (out / "summary.parquet").write_bytes(summary)
    shutil.rmtree(next((out / RUNS_DIR).iterdir()))
    code, lines = cli("plot", str(out))
    assert code == 2 and len(lines) == 1 and "cannot read" in lines[0], lines
    code, lines = cli("plot", str(tmp_path / "nothing"))
    assert code == 2 and "no such results folder" in lines[0]


def test_a_run_whose_files_fail_their_checksums_is_re_run_not_trusted(tmp_path):
    economy(tmp_path)
    out = tmp_path / "out"
    compare = award_compare(tmp_path, 2)
    argv = [*compare, "--workers", "1", "--quiet", "--out", str(out)]
    assert cli(*argv)[0] == 0
    first = pd.read_parquet(out / "summary.parquet")
    run = sorted((out / RUNS_DIR).iterdir())[0]
    series = run / "series.parquet"
    good = series.read_bytes()
    series.write_bytes(good[:100])  # truncated
    assert cli(*argv)[0] == 0, "resume re-runs the damaged run instead of failing on it"
    assert series.read_bytes() == good, "re-run to the same bytes"
    pd.testing.assert_frame_equal(pd.read_parquet(out / "summary.parquet"), first)


def test_editing_a_rule_file_re_runs_every_run_that_uses_it(tmp_path):
    rules = tmp_path / "my-rules.toml"
    rules.write_text(f'extends = "{ROOT / "scenarios/rules/miit-2022.toml"}"\n')
    scenario = tmp_path / "mine.toml"
    scenario.write_text(
        f'extends = "{BASELINE}"\n[population]\nfirms = 300\n[run]\nyears = 2\nrules = "my-rules.toml"\n'
    )
    out = tmp_path / "out"
    argv = ["compare", str(scenario), "--reps", "2", "--workers", "1", "--quiet", "--out", str(out)]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with contextlib.chdir(elsewhere):  # the rules path is relative to the scenario, not the cwd
        assert cli(*argv)[0] == 0
    before = {p.name for p in (out / RUNS_DIR).iterdir()}
    rules.write_text(rules.read_text() + "[meta]\ntitle = 'edited'\n")
    assert cli(*argv)[0] == 0
    after = {p.name for p in (out / RUNS_DIR).iterdir()}
    index = pd.read_parquet(out / "index.parquet")
    assert set(index["key"]).isdisjoint(before), "every run re-made under the edited rules"
    assert len(after) == 2 * len(before)
