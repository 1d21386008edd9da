"""Firm demography and niches: the exit age profile, entry at the census growth rate, niche shares."""

import numpy as np
import pytest

from sim.core import dynamics
from sim.core.firms import FirmState, blank
from sim.core.model import LadderModel
from sim.core.streams import Streams
from sim.io.files import load_rules, load_scenario, rule_sets_of
from tests.conftest import BASELINE


@pytest.fixture
def params():
    return load_scenario(BASELINE).dynamics


def firms(**cols) -> FirmState:
    n = len(next(iter(cols.values())))
    columns = blank(np.arange(1, n + 1), 2030)
    for name, values in cols.items():
        columns[name][:] = values
    state = FirmState()
    state.append(columns)
    return state


def hazard(p, **cols):
    s = firms(**cols)
    return dynamics.exit_hazard(s, p, ref_revenue=1000.0)


def test_each_age_meets_its_year_of_the_published_profile(params):
    table = params.exit_hazard_by_age
    h = hazard(params, age=np.array([1, 2, 6, 60], np.int32), revenue=np.full(4, 1000.0))
    assert h.tolist() == pytest.approx([table[1], table[2], table[6], table[-1]])
    assert table.index(max(table)) == 2, "the profile peaks in the 3rd year of life"


def test_size_moves_the_hazard_between_firms_of_one_age_not_the_age_mean(params):
    h = hazard(params, age=np.array([3, 3], np.int32), revenue=np.array([100.0, 10000.0]))
    assert h[0] > h[1], "the smaller firm exits more often"
    assert h.mean() == pytest.approx(params.exit_hazard_by_age[3])


def test_the_hazard_is_a_probability_even_scaled_up(params):
    p = params.model_copy(update={"exit_hazard_scale": 1.5, "exit_hazard_by_age": [0.9, 0.9]})
    h = hazard(p, age=np.array([1, 1], np.int32), revenue=np.array([1.0, 1e6]))
    assert (h <= 1.0).all() and h[0] == 1.0


def draws(year=2030):
    return Streams(7).year(year)


def test_entry_replaces_exits_and_adds_the_growth_rate(params):
    none = params.model_copy(update={"population_growth": 0.0})
    assert dynamics.entrants(none, draws(), 10_000, 0) == 0
    grow = params.model_copy(update={"population_growth": 0.0418})
    counts = [dynamics.entrants(grow, draws(y), 100_000, 6_000) for y in range(2030, 2040)]
    assert np.mean(counts) == pytest.approx(6_000 + 4_180, rel=0.01)
    shrink = params.model_copy(update={"population_growth": -0.2})
    assert dynamics.entrants(shrink, draws(), 1_000, 10) == 0, (
        "a shrinking economy has no entrants, not fewer than none"
    )


def test_the_population_grows_at_the_census_rate(small_overrides):
    scenario = load_scenario(BASELINE, [*small_overrides, "population.firms=4000", "run.years=8"])
    model = LadderModel(scenario, rule_sets_of(scenario), rng=5, agents=False)
    start = model.firms.n
    model.run_model()
    growth = (model.firms.n / start) ** (1 / 8) - 1
    assert growth == pytest.approx(scenario.dynamics.population_growth, abs=0.006)


def test_a_firm_that_outgrows_its_niche_takes_share_from_rivals_but_never_all(params):
    s = firms(
        revenue=np.array([1000.0]),
        main_share=np.array([1.0]),
        niche_rivals=np.array([1000.0]),
        rd_stock=np.zeros(1),
        growth_effect=np.array([3.0]),  # grows e³ ≈ 20× in a year
        new_class1=np.zeros(1, np.int64),
    )
    dynamics.grow_revenue(s, params, draws(), ref_revenue=1000.0)
    assert s["niche_rivals"][0] == pytest.approx(1000.0 * (1 + params.niche_market_growth))
    share = s["revenue"][0] / (s["revenue"][0] + s["niche_rivals"][0])
    assert 0.9 < share < 1.0


def test_a_titled_firm_stays_in_its_niche(params):
    p = params.model_copy(update={"niche_switch_rate": 1.0})
    cols = {"niche_years": np.array([7, 7]), "main_share": np.array([0.8, 0.8])}
    s = firms(**cols)
    dynamics.specialise(s, p, draws(), anchored=np.array([True, False]))
    assert s["niche_years"].tolist() == [8, 0], "the titled firm keeps its years; the other switched"


def test_titles_that_count_niche_years_anchor_their_holders():
    rules22 = load_rules("miit-2022")
    assert set(rules22.tiers_testing("niche_years")) >= {"srdi", "little_giant", "single_champion"}
    assert "high_tech" not in rules22.tiers_testing("niche_years")


def test_rd_intensity_falls_with_size_only_below_unit_elasticity(params):
    """ε < 1: ten times the reference size targets 10^(ε−1) of the intensity; ε = 1: exactly 1."""
    revenue = np.array([100.0, 1000.0, 10000.0])
    proportional = params.model_copy(update={"rd_size_elasticity": 1.0})
    assert dynamics.size_factor(revenue, proportional, 1000.0).tolist() == [1.0, 1.0, 1.0]
    less = params.model_copy(update={"rd_size_elasticity": 0.9})
    assert dynamics.size_factor(revenue, less, 1000.0) == pytest.approx([10**0.1, 1.0, 10**-0.1])


def test_a_larger_firm_spends_a_smaller_share_of_revenue_on_rd(params):
    """Two firms alike but for size: with ε < 1 the larger one's R&D ÷ revenue is lower."""
    p = params.model_copy(update={"rd_size_elasticity": 0.8, "rd_noise": 0.0, "bunching_probability": 0.0})
    s = firms(
        revenue=np.array([1000.0, 100000.0]),
        revenue_prev=np.array([1000.0, 100000.0]),
        rd_prev=np.array([30.0, 3000.0]),
        rd_propensity=np.full(2, 0.03),
        net_margin=np.full(2, 0.2),
    )
    dynamics.spend_on_rd(s, p, Streams(1).year(2030), np.ones(2), np.array([]), ref_revenue=1000.0)
    intensity = s["rd"] / s["revenue"]
    assert intensity[0] == pytest.approx(0.03)  # at the reference size the target is the propensity
    assert intensity[1] == pytest.approx(0.03 + p.rd_adjustment * (0.03 * 100**-0.2 - 0.03))
