"""Batches: common random numbers, intervals, resume after a kill, and the Dask backend."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.analysis.compare import compare_summary, plan
from sim.analysis.runs import batch_index
from sim.analysis.stats import mean_interval, ratio_interval
from sim.batch.design import design_points, expand
from sim.batch.runner import BatchOptions, run_batch
from sim.core.errors import InputError
from sim.io.experiment_file import Arm, load_experiment
from sim.io.run_store import RUNS_DIR as RUNS
from tests.conftest import BASELINE, ROOT

TINY = ("population.firms=400", "run.years=3")


def tiny_copy(tmp_path: Path, name: str, extra: str = "") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(
        f'extends = "{BASELINE}"\n[population]\nfirms = 400\n[run]\nstart_year = 2024\nyears = 3\n{extra}'
    )
    return path


def test_identical_packages_differ_by_exactly_zero(tmp_path):
    economy = tiny_copy(tmp_path, "economy")
    # a zero award changes the resolved scenario (separate runs) but not the history
    zero = tmp_path / "zero.toml"
    zero.write_text(
        '[meta]\nname = "zero"\n[levers.award]\nitems = [{tier = "srdi", level = "city", amount = 0}]\n'
    )
    the_plan = plan([Arm("zero", economy, zero)])
    specs = expand(the_plan.arms, 6, seed=3)
    keys = run_batch(specs, tmp_path / "out", BatchOptions(workers=1, progress=False))
    assert len(set(keys)) == 12, "separate runs for the package and the no-policy counterfactual"
    summary = compare_summary(tmp_path / "out", batch_index(specs, keys), the_plan)
    extra = summary[summary["metric"].isin(["additional", "additional_first"])]
    assert len(extra) == 7 * 4 + 7  # per tier: 4 years (initial row + 3) of stock, and first certifications
    assert (extra[["mean", "ci_low", "ci_high", "p05", "p95"]].to_numpy() == 0).all()


def test_replication_i_has_the_same_seed_in_every_scenario():
    arms = [Arm("base", BASELINE), Arm("jiaxing", ROOT / "scenarios" / "jiaxing-2021.toml")]
    specs = expand(arms, 4, seed=9)
    by = pd.DataFrame([s.__dict__ for s in specs]).pivot(index="replication", columns="label", values="seed")
    assert (by.nunique(axis=1) == 1).all() and by.iloc[:, 0].is_unique


def test_mean_interval_matches_student_t_and_percentiles():
    x = np.array([3.0, 5.0, 4.0, 8.0, 10.0, 6.0])
    got = mean_interval(x)
    lo, hi = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    assert got["mean"] == pytest.approx(6.0)
    assert got["ci_low"] == pytest.approx(lo) and got["ci_high"] == pytest.approx(hi)
    assert got["p05"] == pytest.approx(np.percentile(x, 5))
    assert got["p95"] == pytest.approx(np.percentile(x, 95))
    assert mean_interval(np.full(5, 2.0))["ci_low"] == 2.0


def test_ratio_interval_contains_the_ratio_and_is_reproducible():
    rng = np.random.default_rng(1)
    den = rng.normal(10, 2, 200)
    num = 50 * den + rng.normal(0, 20, 200)
    got = ratio_interval(num, den)
    assert got["ci_low"] < 50 < got["ci_high"]
    assert got == ratio_interval(num, den)
    assert np.isnan(ratio_interval(num, np.zeros(200))["mean"])


def test_experiment_validation_names_file_and_key(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[experiment]\nname = "x"\nscenarios = ["nope.toml"]\nreplications = 0\n')
    with pytest.raises(InputError, match=r"bad.toml: experiment.replications"):
        load_experiment(bad)
    bad.write_text(
        f'[experiment]\nname = "x"\nscenarios = ["{BASELINE}"]\nreplications = 2\n'
        '[design]\nmethod = "grid"\n[[design.parameters]]\npath = "population.firms"\n'
        "values = [-5]\n"
    )
    with pytest.raises(InputError, match=r"bad.toml: design.parameters .*population.firms"):
        load_experiment(bad)


def test_shipped_experiments_validate():
    for path in sorted((ROOT / "experiments").glob("*.toml")):
        if path.name.startswith(("calibrate-", "target-")):  # tests/test_calibration.py, tests/test_target.py
            continue
        exp, arms = load_experiment(path)
        assert arms and all(a.scenario.is_file() and (a.package is None or a.package.is_file()) for a in arms)
    exp, _ = load_experiment(ROOT / "experiments" / "award-size-sweep.toml")
    points = design_points(exp.design)
    assert len(points) == 16 and points[0][0][0] == "levers.award.items[3].amount"


def test_latin_hypercube_covers_each_range():
    from sim.io.experiment_file import Design

    design = Design(method="lhs", samples=10, parameters=[{"path": "a", "low": 0, "high": 1}])
    values = sorted(v for ((_, v),) in design_points(design))
    assert len(values) == 10
    assert all(k / 10 <= v < (k + 1) / 10 for k, v in enumerate(values))  # one per stratum


def _sweep_file(tmp_path: Path) -> Path:
    path = tmp_path / "sweep.toml"
    path.write_text(
        f'[experiment]\nname = "s"\nscenarios = ["{BASELINE}"]\nreplications = 12\nyears = 3\n'
        '[design]\nmethod = "grid"\n[[design.parameters]]\npath = "population.firms"\n'
        "values = [300, 400]\n"
    )
    return path


def test_interrupted_sweep_resumes_without_losing_or_repeating_runs(tmp_path):
    exp = _sweep_file(tmp_path)
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "sim.app.cli",
        "sweep",
        str(exp),
        "--out",
        str(out),
        "--workers",
        "2",
        "--quiet",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True)
    runs = out / RUNS
    deadline = time.time() + 120
    while time.time() < deadline:
        done = [p for p in runs.glob("*") if (p / "meta.json").is_file()] if runs.exists() else []
        if len(done) >= 3:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole batch, workers included, dies at once
    proc.wait()
    before = {
        p.name: (p / "meta.json").stat().st_mtime_ns
        for p in runs.iterdir()
        if (p / "meta.json").is_file() and not p.name.startswith(".")  # not a killed run's temporary folder
    }
    assert 3 <= len(before) < 24, "killed midway"
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    after = {
        p.name: (p / "meta.json").stat().st_mtime_ns for p in runs.iterdir() if not p.name.startswith(".")
    }
    assert len(after) == 24
    assert all(after[k] == t for k, t in before.items()), "finished runs were not redone"
    table = pd.read_parquet(out / "runs.parquet")
    assert len(table) == 24 and table["key"].is_unique
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["runs"] == 24 and len(manifest["experiment"]["sha256"]) == 64


def test_dask_backend_gives_the_same_numbers_as_local_processes(tmp_path):
    pytest.importorskip("dask.distributed")
    specs = expand([Arm("base", BASELINE)], 4, seed=5, points=[(("population.firms", 300),)], years=3)
    local = run_batch(specs, tmp_path / "local", BatchOptions(workers=2, progress=False))
    dask = run_batch(specs, tmp_path / "dask", BatchOptions(workers=2, backend="dask", progress=False))
    assert local == dask
    for key in local:
        a = pd.read_parquet(tmp_path / "local" / RUNS / key / "series.parquet")
        b = pd.read_parquet(tmp_path / "dask" / RUNS / key / "series.parquet")
        pd.testing.assert_frame_equal(a, b)


def test_compare_command_writes_summary_and_plots(tmp_path):
    economy = tiny_copy(tmp_path, "economy")
    award = tmp_path / "award.toml"
    award.write_text(
        '[meta]\nname = "award"\n[levers.award]\nitems = [{tier = "srdi", level = "city", amount = 50}]\n'
    )
    out = tmp_path / "cmp"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sim.app.cli",
            "compare",
            "--economy",
            str(economy),
            str(award),
            "--reps",
            "6",
            "--workers",
            "1",
            "--out",
            str(out),
            "--quiet",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "vs no-policy" in result.stdout
    summary = pd.read_csv(out / "summary.csv", encoding="utf-8-sig")
    assert {"stock", "cost", "additional", "additional_first", "deadweight_count", "deadweight_money"} <= set(
        summary["metric"]
    )
    dead = summary[(summary.metric == "deadweight_count")].iloc[0]
    assert 0.0 <= dead["mean"] <= 1.0
    for name in ("effects", "tiers_bands", "budget_by_level", "pyramid", "cost_per_additional"):
        assert (out / f"{name}.png").is_file() and (out / f"{name}.svg").is_file()


def test_sweep_refuses_an_unknown_outcome_before_running(tmp_path):
    exp = _sweep_file(tmp_path)
    exp.write_text(
        exp.read_text().replace("years = 3\n", 'years = 3\noutcomes = ["stock.srdi", "stok.srdi"]\n')
    )
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "sim.app.cli", "sweep", str(exp), "--out", str(out), "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "experiment.outcomes: unknown outcome(s) ['stok.srdi']" in result.stderr
    assert not (out / RUNS).exists(), "no run was started"
