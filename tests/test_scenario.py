import pytest

from sim.core.errors import InputError
from sim.io.files import load_raw
from sim.io.files import load_scenario as load
from tests.conftest import BASELINE


def test_baseline_validates_and_cites_sources():
    scenario = load(BASELINE)
    assert scenario.run.start_year == 2024 and scenario.run.years == 10
    assert scenario.run.rules == "miit-2022"
    assert "Yuyao reply 2024" in scenario.certification.sources["initial"]


def test_overrides_reach_nested_values():
    scenario = load(BASELINE, ["population.firms=1234", "certification.initial.srdi=5"])
    assert scenario.population.firms == 1234
    assert scenario.certification.initial["srdi"] == 5


def test_sources_must_cite_existing_keys():
    with pytest.raises(InputError, match="sources cite unknown key"):
        load(BASELINE, ["population.sources.nokey='x'"])


def test_shares_that_must_sum_to_one_are_checked():
    with pytest.raises(InputError, match="digital_levels must sum to 1"):
        load(BASELINE, ["population.digital_levels=[0.5, 0.5, 0.5, 0.0]"])


def test_unknown_tier_id_is_rejected():
    with pytest.raises(InputError, match="unknown tier id"):
        load(BASELINE, ["certification.apply_probability.giant=0.1"])


def test_extends_overrides_only_what_it_sets(tmp_path):
    child = tmp_path / "child.toml"
    child.write_text(f'extends = "{BASELINE}"\n[population]\nfirms = 42\n')
    scenario = load(child)
    assert scenario.population.firms == 42
    assert scenario.population.revenue_median == load(BASELINE).population.revenue_median


def test_extends_cycle_and_missing_parent_are_errors(tmp_path):
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text('extends = "b.toml"\n')
    b.write_text('extends = "a.toml"\n')
    with pytest.raises(InputError, match="cycle"):
        load_raw(a)
    c = tmp_path / "c.toml"
    c.write_text('extends = "gone.toml"\n')
    with pytest.raises(InputError, match="extends: file 'gone.toml' not found"):
        load_raw(c)
