"""Sensitivity analysis: indices per outcome, resume without new runs, bad sizes, a null parameter."""

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.app.cli import main
from sim.core.errors import InputError
from sim.io.run_store import RUNS_DIR as RUNS
from tests.conftest import BASELINE

PARAMS = {
    "certification.apply_probability.srdi": (0.05, 0.6),  # strong: how many eligible firms apply
    "levers.award.items[0].amount": (0.0, 500.0),  # single-champion award: nobody gets there in 2 years
    "dynamics.bunching_probability": (0.0, 1.0),
}


def write_experiment(tmp_path: Path, params: dict[str, tuple[float, float]] = PARAMS) -> Path:
    scenario = tmp_path / "small.toml"
    scenario.write_text(
        f'extends = "{BASELINE}"\n[population]\nfirms = 300\n[run]\nyears = 2\n'
        "[levers.award]\n"
        'items = [{tier = "single_champion", level = "city", amount = 200},'
        ' {tier = "srdi", level = "city", amount = 10}]\n'
    )
    body = "".join(
        f'[[design.parameters]]\npath = "{p}"\nlow = {lo}\nhigh = {hi}\n' for p, (lo, hi) in params.items()
    )
    experiment = tmp_path / "sens.toml"
    experiment.write_text(
        '[experiment]\nname = "sens"\nscenarios = ["small.toml"]\nreplications = 1\nseed = 5\n'
        'outcomes = ["stock.srdi", "stock.little_giant", "spend_total", "cost_per_additional_srdi"]\n'
        f'[design]\nmethod = "lhs"\nsamples = 1\nseed = 3\n{body}'
    )
    return experiment


def sensitivity(experiment: Path, out: Path, *extra: str) -> int:
    """``ladder sensitivity``; a refused input raises its one-line message as InputError."""
    argv = ["sensitivity", str(experiment), "--out", str(out), "--workers", "1", "--quiet", *extra]
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(argv)
    if code == 2:
        raise InputError(err.getvalue().strip())
    return code


@pytest.fixture(scope="module")
def morris_run(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("sens")
    experiment = write_experiment(tmp)
    assert sensitivity(experiment, tmp / "out", "--samples", "2") == 0
    return experiment, tmp / "out"


def test_morris_writes_indices_for_every_parameter_and_outcome(morris_run, capsys):
    _, out = morris_run
    indices = pd.read_parquet(out / "indices.parquet")
    assert set(indices["parameter"]) == set(PARAMS)
    assert {"stock.srdi", "stock.little_giant", "spend_total"} <= set(indices["outcome"])
    stocks = indices[indices["outcome"].str.startswith("stock.")]
    assert np.isfinite(stocks[["mu", "mu_star", "mu_star_conf", "sigma"]].to_numpy()).all()
    assert (indices["method"] == "morris").all()
    assert pd.read_csv(out / "indices.csv").shape == indices.shape
    assert (out / "sensitivity.png").is_file() and (out / "sensitivity.svg").is_file()
    points = pd.read_parquet(out / "points.parquet")
    assert len(points) == 2 * (len(PARAMS) + 1)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["method"] == "morris" and manifest["samples"] == 2 and manifest["paired_without_levers"]
    # twins of points that differ only in the award amount coincide, so fewer distinct runs than specs
    assert manifest["distinct_runs"] < manifest["runs"] == 2 * len(points)


def test_a_parameter_nobody_reaches_has_no_effect(morris_run):
    _, out = morris_run
    srdi = pd.read_parquet(out / "indices.parquet").query("outcome == 'stock.srdi'").set_index("parameter")
    strong = srdi.loc["certification.apply_probability.srdi", "mu_star"]
    assert strong > 1.0
    assert srdi.loc["levers.award.items[0].amount", "mu_star"] <= 0.01 * strong


def test_rerunning_the_same_command_does_no_new_runs(morris_run, capsys):
    experiment, out = morris_run
    folders = sorted((out / RUNS).iterdir())
    before = {p.name: p.stat().st_mtime_ns for p in folders}
    assert sensitivity(experiment, out, "--samples", "2") == 0
    after = {p.name: p.stat().st_mtime_ns for p in (out / RUNS).iterdir()}
    assert after == before
    assert "stock.srdi" in capsys.readouterr().out


def test_sobol_samples_must_be_a_power_of_two(tmp_path):
    experiment = write_experiment(tmp_path)
    with pytest.raises(InputError, match="power of two"):
        sensitivity(experiment, tmp_path / "out", "--method", "sobol", "--samples", "10")
    assert not (tmp_path / "out").exists(), "rejected before any run"


def test_an_experiment_without_parameters_is_rejected(tmp_path):
    experiment = write_experiment(tmp_path)
    text = experiment.read_text()
    experiment.write_text(text[: text.index("[design]")])
    with pytest.raises(InputError, match="at least one parameter"):
        sensitivity(experiment, tmp_path / "out")


def test_unknown_outcome_names_the_file_and_key(tmp_path):
    experiment = write_experiment(tmp_path)
    experiment.write_text(experiment.read_text().replace('"spend_total"', '"spend_everything"'))
    with pytest.raises(InputError, match=r"sens.toml: experiment.outcomes: .*spend_everything"):
        sensitivity(experiment, tmp_path / "out")


def test_sobol_gives_first_order_and_total_indices(tmp_path):
    experiment = write_experiment(tmp_path, {"certification.apply_probability.srdi": (0.05, 0.6)})
    assert sensitivity(experiment, tmp_path / "out", "--method", "sobol", "--samples", "4") == 0
    indices = pd.read_parquet(tmp_path / "out" / "indices.parquet")
    row = indices.query("outcome == 'stock.srdi'").iloc[0]
    assert {"S1", "S1_conf", "ST", "ST_conf"} <= set(indices.columns)
    assert row["ST"] > 0.5
