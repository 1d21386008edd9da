"""Calibration: the objective, the overlay round trip, parameter checks before any run, the
history written as the fit goes, resuming, and recovering a known parameter."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from sim.analysis.calibration import Evaluator, calibrate, objective, overlay
from sim.app.cli import main
from sim.batch.runner import BatchOptions
from sim.core.errors import InputError
from sim.io.calibration_file import Calibration, load_calibration
from sim.io.files import load_scenario as load
from tests.conftest import BASELINE, ONE_WORKER, ROOT, count_executions

JIAXING = ROOT / "scenarios" / "jiaxing-2021.toml"  # its award lever has four items

SMALL = (
    'extends = "{base}"\n[population]\nfirms = 700\n'
    "[certification]\nwarmup_years = 2\n"
    "initial = {{ high_tech = 0, innovative = 0, srdi = 0, little_giant = 0, key_little_giant = 0 }}\n"
)


def small_scenario(tmp_path):
    path = tmp_path / "small.toml"
    path.write_text(SMALL.format(base=BASELINE))
    return path


def calibration_file(
    tmp_path, observed: float, start: float = 0.15, evaluations: int = 40, replications: int = 3
):
    small_scenario(tmp_path)
    path = tmp_path / "cal.toml"
    path.write_text(f"""
[calibration]
name = "tiny"
scenario = "small.toml"
replications = {replications}
seed = 4
max_evaluations = {evaluations}

[[parameters]]
path = "certification.apply_probability.innovative"
low = 0.02
high = 0.9
start = {start}

[[targets]]
name = "innovative stock"
moment = "stock.innovative"
observed = {observed}
source = "synthetic"

[[targets]]
name = "above-scale firms"
moment = "above_scale_firms"
observed = 100
use = "check"
source = "synthetic"
""")
    return path


def test_objective_is_zero_at_the_data_and_weights_relative_errors():
    obs = np.array([100.0, 10.0])
    assert objective(obs, obs, np.ones(2)) == 0.0
    assert objective(np.array([110.0, 10.0]), obs, np.ones(2)) == pytest.approx(0.01)
    assert objective(np.array([100.0, 11.0]), obs, np.array([1.0, 3.0])) == pytest.approx(0.03)
    assert objective(np.array([np.nan, 10.0]), obs, np.ones(2)) == pytest.approx(1.0)


def test_overlay_round_trip(tmp_path):
    cal, scenario = load_calibration(calibration_file(tmp_path, 100))
    path = overlay(cal, scenario, [0.4321], tmp_path, tmp_path / "cal.toml", 0.5)
    fitted = load(path)
    assert fitted.certification.apply_probability["innovative"] == pytest.approx(0.4321)
    assert fitted.population.firms == 700  # everything else comes from the extended scenario
    assert "fitted by cal.toml" in fitted.certification.sources["apply_probability"]


def test_tiny_calibration_recovers_a_known_parameter(tmp_path):
    truth = 0.45
    small = small_scenario(tmp_path)
    from sim.batch.runner import replication_seed

    seeds = [replication_seed(4, r) for r in range(3)]
    ev = Evaluator(
        small, [], ("stock.innovative",), seeds, tmp_path / "truth", BatchOptions(workers=1, progress=False)
    )
    observed = ev.replications([f"certification.apply_probability.innovative={truth}"]).mean()
    cal, scenario = load_calibration(calibration_file(tmp_path, observed))
    fit = calibrate(cal, scenario, tmp_path / "fit", BatchOptions(workers=1, progress=False))
    assert fit.values[0] == pytest.approx(truth, abs=0.06)
    row = fit.table.set_index("moment").loc["stock.innovative"]
    assert abs(row["relative_error"]) < 0.05  # the start (0.15) misses by far more
    assert set(fit.table["use"]) == {"fit", "check"}
    assert fit.history["objective"].iloc[0] > fit.objective


def test_bad_calibration_files_name_file_and_key(tmp_path):
    path = calibration_file(tmp_path, 100)
    text = path.read_text()
    path.write_text(text.replace('moment = "stock.innovative"', 'moment = "stock.nothing"'))
    with pytest.raises(InputError, match=r"cal.toml: targets.0.moment|cal.toml: targets.0"):
        load_calibration(path)
    path.write_text(text.replace("low = 0.02", "low = 2.0"))
    with pytest.raises(InputError, match="cal.toml: parameters.0"):
        load_calibration(path)
    path.write_text(
        text.replace('path = "certification.apply_probability.innovative"', 'path = "population.nope"')
    )
    with pytest.raises(
        InputError, match=r"cal.toml: parameters\[0\].path: population has no key 'nope' \(it has: firms"
    ):
        load_calibration(path)


def test_shipped_calibration_validates():
    cal, scenario = load_calibration(ROOT / "experiments" / "calibrate-yuyao.toml")
    assert isinstance(cal, Calibration) and scenario.name == "yuyao.toml"
    assert {t.use for t in cal.targets} == {"fit", "check"}


# ------------------------------------------------------------------ array items in the overlay


def award_calibration(tmp_path, *paths: str) -> Path:
    """A calibration of award amounts of the Jiaxing scenario (nothing is run)."""
    params = "".join(f'[[parameters]]\npath = "{p}"\nlow = 1\nhigh = 300\n\n' for p in paths)
    path = tmp_path / "cal.toml"
    path.write_text(
        f'[calibration]\nname = "awards"\nscenario = "{JIAXING}"\nreplications = 1\n\n{params}'
        '[[targets]]\nname = "srdi"\nmoment = "stock.srdi"\nobserved = 100\nsource = "synthetic"\n'
    )
    return path


def test_overlay_sets_array_items_and_keeps_the_others(tmp_path):
    """An overlay's arrays replace the scenario's: the fitted items change, the others stay whole."""
    cal, scenario = load_calibration(
        award_calibration(tmp_path, "levers.award.items[3].amount", "levers.award.items[0].amount")
    )
    path = overlay(cal, scenario, [23.5, 180.25], tmp_path, tmp_path / "cal.toml", 0.5)
    items, original = load(path).levers.award.items, load(JIAXING).levers.award.items
    assert len(items) == len(original) == 4
    assert items[3].amount == 23.5 and items[0].amount == 180.25
    assert items[1:3] == original[1:3]
    for fitted, before in ((items[3], original[3]), (items[0], original[0])):
        assert fitted.model_copy(update={"amount": before.amount, "sources": before.sources}) == before
        assert fitted.sources["amount"].startswith("fitted by cal.toml")
        assert fitted.sources["tier"] == before.sources["tier"]
    assert load(path).levers.award.on_renewal is False  # the rest of the lever is the scenario's


# ------------------------------------------------------------------ parameters checked before any run


@pytest.mark.parametrize(
    ("param", "message"),
    [
        ('path = "levers.award.items[0].amount"', "levers.award is not set in the scenario"),
        ('path = "levers.rd_subsidy.rate"', "levers.rd_subsidy is not set in the scenario"),
        ('path = "population.digital_levels[4]"', "population.digital_levels has 4 item(s), so no item 4"),
        (
            'path = "population.digital_levels"',
            "population.digital_levels is an array: name an item by index",
        ),
        ('path = "population.firms[0]"', "population.firms is not an array"),
        ('path = "population.firms.x"', "population.firms is a value, not a table"),
        ('path = "run.rules"', "run.rules is not a number ('miit-2022')"),
        ('path = "population"', "population is not a number"),
        (
            'path = "certification.apply_probability.nope"',
            "certification.apply_probability has no key 'nope'",
        ),
        ('path = "population..firms"', "'population..firms' is not a dotted path of names"),
        ('path = "population.firms=3"', "is not a dotted path of names"),
        ('path = "population.firms"', "parameters[0].integer: population.firms is a whole number"),
        ("high = 1.5", "parameters[0].high = 1.5: "),
    ],
)
def test_parameter_paths_and_bounds_are_checked_before_any_run(tmp_path, param, message):
    path = calibration_file(tmp_path, 100)
    key = param.split(" = ")[0]
    text = path.read_text()
    line = next(t for t in text.splitlines() if t.startswith(f"{key} = "))
    path.write_text(text.replace(line, param, 1))
    with pytest.raises(InputError) as err:
        load_calibration(path)
    assert str(err.value).startswith(f"{path}: parameters[0].")
    assert message in str(err.value) and "\n" not in str(err.value)


def test_duplicate_paths_and_values_valid_only_with_the_overrides_are_refused(tmp_path):
    path = calibration_file(tmp_path, 100)
    text = path.read_text()
    param = text[text.index("[[parameters]]") : text.index("[[targets]]")]
    path.write_text(text.replace(param, param + param))
    with pytest.raises(
        InputError, match=r"parameters\[1\].path: .* is fitted twice \(also parameters\[0\]\)"
    ):
        load_calibration(path)
    award = '{ items = [{ tier = "srdi", level = "city", amount = 5 }] }'
    path.write_text(
        text.replace("max_evaluations", f"overrides = ['levers.award={award}']\nmax_evaluations").replace(
            "certification.apply_probability.innovative", "levers.award.items[0].amount"
        )
    )
    with pytest.raises(
        InputError, match=r"set only by calibration.overrides, but the fitted overlay extends small"
    ):
        load_calibration(path)
    path.write_text(  # the overlay extends the scenario without the overrides: its bounds must hold there too
        text.replace("max_evaluations", "overrides = ['dynamics.super_deduction=0.5']\nmax_evaluations")
        .replace("certification.apply_probability.innovative", "dynamics.tax_rate")
        .replace("low = 0.02\nhigh = 0.9\nstart = 0.15", "low = 0.5\nhigh = 1.0\nstart = 0.6")
    )
    overlay_refused = r"parameters\[0\].high = 1.0: the fitted overlay, which extends .* would not load: "
    with pytest.raises(InputError, match=overlay_refused + r".*tax_rate × super_deduction must be below 1"):
        load_calibration(path)


@pytest.mark.parametrize("observed", ["nan", "inf", "-inf", "0"])
def test_observed_must_be_a_finite_non_zero_number(tmp_path, observed):
    path = calibration_file(tmp_path, 100)
    path.write_text(path.read_text().replace("observed = 100\nsource", f"observed = {observed}\nsource", 1))
    with pytest.raises(InputError, match=rf"{path}: targets.0"):
        load_calibration(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [(b'[calibration]\nname = "caf\xe9"\n', "not UTF-8 text"), (b"[calibration\n", "not valid TOML")],
)
def test_unreadable_calibration_files_are_one_line(tmp_path, capsys, content, message):
    path = tmp_path / "cal.toml"
    path.write_bytes(content)
    assert main(["calibrate", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: {message}") and err.count("\n") == 1


# ------------------------------------------------------------------ history as the fit goes; resuming


def test_an_interrupted_calibration_keeps_its_history_and_resumes_without_rerunning(tmp_path, monkeypatch):
    cal, scenario = load_calibration(calibration_file(tmp_path, 60, evaluations=5, replications=1))
    executed = count_executions(monkeypatch)
    path, rows_on_disk = tmp_path / "fit" / "history.csv", []

    def ctrl_c_after_three(n: int, value: float) -> None:
        rows_on_disk.append(len(path.read_text(encoding="utf-8").splitlines()) - 1)
        if n == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        calibrate(cal, scenario, tmp_path / "fit", ONE_WORKER, ctrl_c_after_three)
    assert rows_on_disk == [1, 2, 3]  # each evaluation is on disk as soon as it completes
    history = path.read_text(encoding="utf-8").splitlines()
    assert history[0] == "evaluation,objective,certification.apply_probability.innovative"
    assert [row.split(",")[0] for row in history[1:]] == ["1", "2", "3"]
    before = list(executed)
    executed.clear()
    resumed = calibrate(cal, scenario, tmp_path / "fit", ONE_WORKER)
    after = list(executed)
    assert not set(before) & set(after), "a resumed calibration re-ran finished runs"
    assert len(before + after) == len(set(before + after)) == len(list((tmp_path / "fit" / "runs").iterdir()))
    whole = calibrate(cal, scenario, tmp_path / "whole", ONE_WORKER)
    assert path.read_bytes() == (tmp_path / "whole" / "history.csv").read_bytes()  # no row twice, none lost
    assert resumed.values == whole.values and len(resumed.history) == 5


def test_ctrl_c_during_calibrate_prints_one_line_and_keeps_the_history(tmp_path, monkeypatch, capsys):
    path = calibration_file(tmp_path, 60, evaluations=5, replications=1)
    replications, calls = Evaluator.replications, []

    def interrupted(self, overrides, seeds=None):
        calls.append(overrides)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return replications(self, overrides, seeds)

    monkeypatch.setattr(Evaluator, "replications", interrupted)
    out = tmp_path / "out"
    assert main(["calibrate", str(path), "--quiet", "--workers", "1", "--out", str(out)]) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip().startswith("interrupted:")
    assert err.strip().endswith("run the same command again to resume") and err.strip().count("\n") == 0
    assert len((out / "history.csv").read_text(encoding="utf-8").splitlines()) == 1 + 2


def test_a_real_ctrl_c_with_worker_processes_prints_one_line_and_keeps_the_history(tmp_path):
    """SIGINT to the whole process group, as a terminal sends it: the workers get it too."""
    path = calibration_file(tmp_path, 60, evaluations=40, replications=2)
    out, history = tmp_path / "out", tmp_path / "out" / "history.csv"
    command = [sys.executable, "-m", "sim.app.cli", "calibrate", str(path), "--quiet", "--workers", "2"]
    proc = subprocess.Popen(
        [*command, "--out", str(out)], cwd=ROOT, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 60
        while not (history.is_file() and len(history.read_text(encoding="utf-8").splitlines()) > 1):
            assert proc.poll() is None and time.monotonic() < deadline, "the calibration ended before Ctrl-C"
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("interrupted:") and lines[0].endswith("to resume"), err
    assert len(history.read_text(encoding="utf-8").splitlines()) > 1


def test_calibrating_an_array_item_writes_a_loadable_overlay(tmp_path, capsys):
    """End to end: the overlay of an array-item path is written after the fit and loads."""
    small = tmp_path / "small-jiaxing.toml"
    small.write_text(SMALL.format(base=JIAXING))
    path = award_calibration(tmp_path, "levers.award.items[3].amount")
    text = path.read_text().replace(str(JIAXING), small.name)
    path.write_text(text.replace("replications = 1", "replications = 1\nmax_evaluations = 3"))
    out = tmp_path / "out"
    assert main(["calibrate", str(path), "--quiet", "--workers", "1", "--out", str(out)]) == 0, (
        capsys.readouterr()
    )
    fitted = load(out / "small-jiaxing-fitted.toml")
    history = (out / "history.csv").read_text(encoding="utf-8").splitlines()
    best = min((row.split(",") for row in history[1:]), key=lambda row: float(row[1]))
    assert fitted.levers.award.items[3].amount == float(best[2])
    assert fitted.levers.award.items[:3] == load(small).levers.award.items[:3]


def test_standard_errors_are_the_smm_sandwich_and_empty_where_not_identified():
    """Linear moments m = Aθ: G = A, so V = (1 + 1/R)(A'WA)⁻¹A'WΩWA(A'WA)⁻¹ exactly."""
    from types import SimpleNamespace

    from sim.analysis.calibration import standard_errors
    from sim.io.calibration_file import FittedParameter

    pars = [FittedParameter(path=f"p{i}", low=0.0, high=10.0) for i in range(2)]
    cal = SimpleNamespace(parameters=pars)
    A = np.array([[2.0, 0.5], [0.0, 1.0], [1.0, 1.0]])
    theta = [3.0, 4.0]
    observed = A @ np.array(theta)
    weights = np.array([1.0, 2.0, 0.5])
    replicated = observed + np.random.default_rng(1).normal(0, 1, (50, 3)) * [0.5, 1.0, 2.0]
    se = standard_errors(cal, theta, lambda v: A @ np.array(v), replicated, observed, weights)
    W = np.diag(weights / observed**2)
    inv = np.linalg.inv(A.T @ W @ A)
    V = (1 + 1 / 50) * inv @ A.T @ W @ np.cov(replicated, rowvar=False) @ W @ A @ inv
    assert se["standard_error"].to_numpy() == pytest.approx(np.sqrt(np.diag(V)), rel=1e-6)
    assert se["identified"].all()

    blind = standard_errors(cal, theta, lambda v: A[:, :1] @ np.array(v[:1]), replicated, observed, weights)
    assert not blind["identified"].any() and blind["standard_error"].isna().all()
