"""Calibration: the objective, the overlay round trip, and recovering a known parameter."""

import numpy as np
import pytest

from sim.analysis.calibration import Evaluator, calibrate, objective, overlay
from sim.batch.runner import BatchOptions
from sim.core.errors import InputError
from sim.io.calibration_file import Calibration, load_calibration
from sim.io.files import load_scenario as load
from tests.conftest import BASELINE, ROOT

SMALL = (
    'extends = "{base}"\n[population]\nfirms = 700\n'
    "[certification]\nwarmup_years = 2\n"
    "initial = {{ high_tech = 0, innovative = 0, srdi = 0, little_giant = 0, key_little_giant = 0 }}\n"
)


def small_scenario(tmp_path):
    path = tmp_path / "small.toml"
    path.write_text(SMALL.format(base=BASELINE))
    return path


def calibration_file(tmp_path, observed: float, start: float = 0.15, evaluations: int = 40):
    small_scenario(tmp_path)
    path = tmp_path / "cal.toml"
    path.write_text(f"""
[calibration]
name = "tiny"
scenario = "small.toml"
replications = 3
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
    with pytest.raises(InputError, match="population.nope: unknown key"):
        load_calibration(path)


def test_shipped_calibration_validates():
    cal, scenario = load_calibration(ROOT / "experiments" / "calibrate-yuyao.toml")
    assert isinstance(cal, Calibration) and scenario.name == "yuyao.toml"
    assert {t.use for t in cal.targets} == {"fit", "check"}
