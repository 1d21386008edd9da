"""The statistics behind the validation report measure what they claim to."""

import numpy as np
import pytest

from sim.analysis.validation import bunching_ratio, growth_shape, hill_tail_index, size_scaling


def test_hill_estimator_recovers_a_pareto_index():
    rng = np.random.default_rng(0)
    x = (1.0 - rng.random(200_000)) ** (-1 / 1.1)  # Pareto, alpha = 1.1
    assert hill_tail_index(x) == pytest.approx(1.1, rel=0.05)


def test_growth_shape_tells_laplace_from_normal():
    rng = np.random.default_rng(1)
    laplace = growth_shape(rng.laplace(0, 0.1, 100_000))
    normal = growth_shape(rng.normal(0, 0.1, 100_000))
    assert laplace["excess_kurtosis"] == pytest.approx(3.0, abs=0.3)
    assert laplace["laplace_gain"] > 0 > normal["laplace_gain"]


def test_size_scaling_finds_shrinking_volatility():
    rng = np.random.default_rng(2)
    size = rng.uniform(0, 10, 200_000)
    g = rng.normal(0, np.exp(-0.2 * size))
    scaling = size_scaling(g, size)
    assert scaling["sd_slope"] == pytest.approx(-0.2, abs=0.02)
    assert abs(scaling["mean_slope"]) < 0.01


def test_bunching_ratio_detects_excess_mass_above_a_notch():
    rng = np.random.default_rng(3)
    x = rng.uniform(0.0, 0.06, 100_000)
    assert bunching_ratio(x, 0.03) == pytest.approx(1.0, rel=0.05)
    near = (x >= 0.027) & (x < 0.03)
    bunched = np.where(near & (rng.random(len(x)) < 0.5), 0.03, x)
    assert bunching_ratio(bunched, 0.03) > 2.5


def test_exit_profile_counts_who_left_at_their_age_at_the_test():
    import pandas as pd

    from sim.analysis.validation import exit_profile, national_shares

    year1 = pd.DataFrame({"year": 2024, "firm_id": [1, 2, 3, 4], "age": [0, 0, 2, 2]})
    year2 = pd.DataFrame({"year": 2025, "firm_id": [2, 3, 4, 5], "age": [1, 3, 3, 0]})
    table, rate = exit_profile([pd.concat([year1, year2])], oldest=4)
    assert table.set_index("age").loc[1, ["at_risk", "exits"]].tolist() == [2, 1]  # firm 1 left at age 1
    assert table.set_index("age").loc[3, ["at_risk", "exits"]].tolist() == [2, 0]
    assert rate == 0.25

    end = pd.DataFrame(
        {
            "year": 2025,
            "revenue": [100.0, 100.0],
            "main_share": [1.0, 0.5],
            "niche_rivals": [100.0, 50.0],
            "held_single_champion": [True, False],
        }
    )
    assert national_shares([end], "held_single_champion").tolist() == [0.5]
