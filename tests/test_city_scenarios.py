"""The seed cities' policy packages: they load, pay, and do what the issue asks of them."""

import numpy as np
import pytest

from sim.core.model import LadderModel
from sim.io.files import load_scenario as load
from sim.io.files import rule_sets_of
from tests.conftest import ROOT

CITIES = ["jiaxing-2021", "yuyao-2024", "ningbo-2024", "zhejiang-hidden-champion"]


def run(path, overrides=(), seed=1, years=None):
    scenario = load(path, list(overrides))
    model = LadderModel(scenario, rule_sets_of(scenario), rng=seed, agents=False)
    for _ in range(years or scenario.run.years):
        model.step()
    return model


@pytest.mark.parametrize("city", CITIES)
def test_city_scenario_runs_with_a_consistent_ledger(city):
    model = run(ROOT / "scenarios" / f"{city}.toml", ["population.firms=2000"], years=4)
    ledger = model.policy.ledger
    assert ledger.table()["amount_wan"].sum() == pytest.approx(ledger.total())
    if city != "zhejiang-hidden-champion":  # that package has no money levers
        assert ledger.total() > 0
    for name in type(model.scenario.levers).model_fields:
        lever = getattr(model.scenario.levers, name)
        if name != "sources" and lever is not None:
            items = getattr(lever, "items", None) or getattr(lever, "types", None) or []
            assert lever.sources or all(item.sources for item in items), (city, name)


def test_yuyao_rd_post_subsidy_lands_near_the_reported_total():
    """Yuyao reply 2024 L16: 235 above-scale firms received 4143.59万 in one year (±30 % allowed)."""
    path = ROOT / "scenarios" / "yuyao-2024.toml"
    for seed in (1, 2, 3):
        model = run(path, seed=seed, years=1)
        rows = model.policy.ledger.firm_rows()
        rows = rows[rows["lever"] == "rd_subsidy"]
        firms = model.firms.all_firms()
        at = np.searchsorted(firms["firm_id"], rows["firm_id"].to_numpy())
        above = firms["revenue_prev"][at] >= model.scenario.population.above_scale_revenue
        total = rows["amount_wan"].to_numpy()[above].sum()
        assert 0.7 * 4143.59 <= total <= 1.3 * 4143.59, (seed, total)


def test_jiaxing_certifies_more_firms_than_the_baseline_over_20_paired_seeds():
    jiaxing = ROOT / "scenarios" / "jiaxing-2021.toml"
    baseline = ROOT / "scenarios" / "economies" / "baseline.toml"
    same_calendar = ["run.start_year=2021", "run.years=7"]
    small = ["population.firms=2500"]
    diffs = []
    for seed in range(20):
        a = run(jiaxing, small, seed=seed).datacollector.get_model_vars_dataframe()
        b = run(baseline, small + same_calendar, seed=seed).datacollector.get_model_vars_dataframe()
        new = [c for c in a.columns if c.startswith("new.")]
        diffs.append(a[new].to_numpy().sum() - b[new].to_numpy().sum())
    assert np.mean(diffs) > 0
