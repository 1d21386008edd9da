"""Policy effects on one economy: firm-level common random numbers, placebo, refusal, honest ratios."""

import contextlib
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.analysis.compare import NO_POLICY, _ratio_row, _status, _target_rows, plan
from sim.analysis.stats import mean_interval
from sim.app.cli import main
from sim.core.errors import InputError
from sim.core.scenario import PolicyTarget
from sim.io.experiment_file import Arm
from sim.io.files import load_scenario, open_model
from tests.conftest import BASELINE, ROOT

ECONOMY = (
    f'extends = "{BASELINE}"\n[meta]\nname = "small"\n[population]\nfirms = 1500\n'
    "[run]\nstart_year = 2024\nyears = 5\n"
)
PLACEBO = (
    '[meta]\nname = "placebo"\n[levers.award]\nliquidity_share = 0.0\napply_award_scale = 1000.0\n'
    'items = [{tier = "innovative", level = "city", amount = 1e-6}, {tier = "srdi", level = "city", amount = 1e-6},'
    ' {tier = "little_giant", level = "city", amount = 1e-6}]\n'
)
AWARDS = (
    '[meta]\nname = "awards"\n[levers.award]\nfirst_time_only = false\nliquidity_share = 1.0\n'
    'items = [{tier = "innovative", level = "city", amount = 100}, {tier = "srdi", level = "city", amount = 500},'
    ' {tier = "little_giant", level = "city", amount = 2000}]\n'
)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    out = {
        "economy": tmp_path / "economy.toml",
        "placebo": tmp_path / "placebo.toml",
        "awards": tmp_path / "awards.toml",
    }
    out["economy"].write_text(ECONOMY, encoding="utf-8")
    out["placebo"].write_text(PLACEBO, encoding="utf-8")
    out["awards"].write_text(AWARDS, encoding="utf-8")
    return out


def ladder(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def compare(files, tmp_path, *packages, reps=4, extra=()):
    code, out, err = ladder(
        "compare",
        "--economy",
        str(files["economy"]),
        *map(str, packages),
        "--reps",
        str(reps),
        "--workers",
        "1",
        "--quiet",
        "--out",
        str(tmp_path / "cmp"),
        *extra,
    )
    assert code == 0, err
    return pd.read_parquet(tmp_path / "cmp" / "summary.parquet"), out


def test_a_placebo_package_buys_exactly_nothing_and_all_its_money_is_deadweight(files, tmp_path):
    summary, _ = compare(files, tmp_path, files["placebo"])
    placebo = summary[summary["package"] == "placebo"]
    for metric in ("additional", "additional_first"):
        effect = placebo[placebo["metric"] == metric]
        assert len(effect) and (effect[["mean", "ci_low", "ci_high", "p05", "p95"]].to_numpy() == 0).all(), (
            metric
        )
    dead = placebo[
        placebo["metric"].isin(["deadweight_count", "deadweight_money"]) & (placebo["tier"] == "all")
    ]
    assert len(dead) == 2 and (dead["mean"] == 1.0).all()
    # a cost per additional firm of a package that buys nothing is not defined, not infinite
    assert placebo.loc[placebo["metric"] == "award_cost_per_first", "mean"].isna().all()
    assert (placebo.loc[placebo["metric"] == "award_cost_per_first", "status"] == "n.s.").all()


def test_a_package_compared_with_itself_differs_by_exactly_zero(files, tmp_path):
    twin = tmp_path / "twin.toml"
    twin.write_text(AWARDS.replace('name = "awards"', 'name = "twin"'), encoding="utf-8")
    summary, _ = compare(files, tmp_path, files["awards"], twin, extra=("--versus", "awards"))
    effect = summary[
        (summary["package"] == "twin") & summary["metric"].isin(["additional", "additional_first"])
    ]
    assert len(effect) and (effect[["mean", "ci_low", "ci_high"]].to_numpy() == 0).all()
    assert set(effect["versus"]) == {"awards"}


def test_awards_leave_every_unpaid_firm_on_the_trajectory_it_has_without_them(files):
    # Couplings that remain by design: a quota ranks applicants (hidden champions: switched off
    # here), a budget cap rations payments (none here), and entry is proportional to the live
    # population, so a year's count of entrants may differ (only entrants present in both runs
    # are compared).
    no_quota = ["certification.apply_probability.hidden_champion=0.0"]
    plain = open_model(files["economy"], no_quota, rng=11, agents=False)
    paid = load_scenario(files["economy"], no_quota, files["awards"])
    from sim.core.model import LadderModel
    from sim.io.files import rule_sets_of

    awarded = LadderModel(paid, rule_sets_of(paid), rng=11, agents=False)
    plain.run_model()
    awarded.run_model()
    a, b = plain.firms.all_firms(), awarded.firms.all_firms()
    money = awarded.policy.ledger.firm_rows()
    assert len(money) > 20, "the package pays"
    common = np.intersect1d(a["firm_id"], b["firm_id"])
    unpaid = np.setdiff1d(common, money["firm_id"].unique())
    ia, ib = np.searchsorted(a["firm_id"], unpaid), np.searchsorted(b["firm_id"], unpaid)
    skip = {"liquidity_bonus"}  # a policy column: zero for unpaid firms in both runs anyway
    differing = [c for c in a if c not in skip and not np.array_equal(a[c][ia], b[c][ib])]
    assert differing == []
    # and the package changed something for the firms it paid
    ip, jp = (
        np.searchsorted(a["firm_id"], money["firm_id"].unique()),
        np.searchsorted(b["firm_id"], money["firm_id"].unique()),
    )
    assert not np.array_equal(a["revenue"][ip], b["revenue"][jp])


def test_comparing_two_economies_is_refused_with_the_differing_keys():
    code, _, err = ladder(
        "compare",
        str(ROOT / "scenarios" / "yuyao-2024.toml"),
        str(ROOT / "scenarios" / "jiaxing-2021.toml"),
        "--reps",
        "2",
        "--quiet",
    )
    assert code == 2
    line = err.strip()
    assert "\n" not in line and "another economy" in line
    assert "run.start_year" in line and "population.firms" in line


def test_plan_adds_the_no_policy_counterfactual_of_the_same_economy(files):
    the_plan = plan([Arm("awards", files["economy"], files["awards"])])
    assert the_plan.labels == [NO_POLICY, "awards"] and the_plan.reference == NO_POLICY
    assert the_plan.economy.levers.award is None
    with pytest.raises(InputError, match="--versus nobody"):
        plan([Arm("awards", files["economy"], files["awards"])], versus="nobody")


def test_a_lever_is_switched_off_in_an_overlay(tmp_path):
    ours = tmp_path / "ours.toml"
    ours.write_text(
        f'extends = "{ROOT / "scenarios" / "packages" / "yuyao-2024.toml"}"\n[meta]\nname = "ours"\n'
        "[levers]\ntalent_grant = false\n",
        encoding="utf-8",
    )
    sc = load_scenario(ROOT / "scenarios" / "economies" / "yuyao.toml", package=ours)
    assert sc.levers.talent_grant is None and sc.levers.rd_subsidy is not None
    assert (
        load_scenario(ROOT / "scenarios" / "yuyao-2024.toml", ["levers.rd_subsidy=false"]).levers.rd_subsidy
        is None
    )


def test_a_package_holding_economy_settings_is_refused(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[meta]\nname = "bad"\n[population]\nfirms = 10\n', encoding="utf-8")
    with pytest.raises(
        InputError, match="bad.toml: population: a policy package holds only meta, levers, targets"
    ):
        load_scenario(ROOT / "scenarios" / "economies" / "yuyao.toml", package=bad)


def test_a_ratio_is_given_only_for_a_significant_gain_and_a_loss_is_a_loss():
    gain = np.array([3.0, 4.0, 5.0, 4.0])
    assert _status(mean_interval(gain)) == "gain"
    assert _status(mean_interval(-gain)) == "loss"
    assert _status(mean_interval(np.array([1.0, -1.0, 2.0, -2.0]))) == "n.s."
    money = np.array([300.0, 400.0, 500.0, 400.0])
    row = _ratio_row("p", "award_cost_per_first", money, gain, "gain")
    assert row["mean"] == pytest.approx(100.0) and row["status"] == "gain"
    lost = _ratio_row("p", "award_cost_per_first", money, -gain, "loss")
    assert np.isnan(lost["mean"]) and lost["status"] == "loss"


def test_targets_report_probability_shortfall_and_what_is_out_of_reach():
    years = [2024, 2025]
    series = pd.DataFrame(
        [
            {
                "replication": r,
                "year": y,
                "stock.srdi": 100 + 10 * r + y - 2024,
                "new.srdi": 5 + r,
                "firms_alive": 500,
            }
            for r in range(4)
            for y in years
        ]
    )
    targets = [
        PolicyTarget(tier="srdi", by_year=2025, added=12),
        PolicyTarget(tier="srdi", by_year=2025, stock=120),
        PolicyTarget(tier="srdi", by_year=2025, stock=20000),
        PolicyTarget(tier="tech_sme", by_year=2025, added=1),
        PolicyTarget(tier="srdi", by_year=2030, added=1),
    ]
    rows = pd.DataFrame(_target_rows("p", targets, series, 2024, 2025))
    prob = rows[rows["metric"] == "target_probability"].reset_index(drop=True)
    assert prob.loc[0, "mean"] == pytest.approx(0.75)  # added 10, 12, 14, 16 against 12
    assert prob.loc[1, "mean"] == pytest.approx(0.5)  # stock 101, 111, 121, 131 against 120
    assert list(prob["status"].iloc[2:]) == ["out of reach", "not a model tier", "outside horizon"]
    assert "500" in prob.loc[2, "note"]
    short = rows[rows["metric"] == "target_shortfall"].reset_index(drop=True)
    assert short.loc[0, "mean"] == pytest.approx(0.5)  # (2 + 0 + 0 + 0) / 4


def test_compare_tables_open_in_excel_with_chinese_and_integer_years(files, tmp_path):
    compare(files, tmp_path, files["awards"], reps=3)
    folder = tmp_path / "cmp"
    for name in ("summary.csv", "effects.csv", "tiers_by_year.csv", "cost_by_year.csv", "targets.csv"):
        assert (folder / name).read_bytes()[:3] == b"\xef\xbb\xbf", name
    wide = pd.read_csv(folder / "tiers_by_year.csv", encoding="utf-8-sig")
    assert {"2023", "2024", "2028"} <= set(wide.columns) and "专精特新中小企业" in set(wide["name_zh"])
    cost = pd.read_csv(folder / "cost_by_year.csv", encoding="utf-8-sig")
    assert {"2024", "2028", "total"} <= set(cost.columns) and set(cost["statistic"]) == {"mean", "p05", "p95"}


def test_removing_one_firm_leaves_every_other_firm_on_its_own_draws(files):
    """The draws are keyed by firm, not by row: one firm's exit shifts nobody else's shocks."""
    runs = []
    for kill in (False, True):
        model = open_model(
            files["economy"], ["certification.apply_probability.hidden_champion=0.0"], rng=5, agents=False
        )
        model.step()
        if kill:
            killed = int(model.firms["firm_id"][3])
            model.firms["alive"][3] = False  # the fourth live firm closes after the first year
            model.firms.turnover(None)
        model.run_model()
        runs.append(model.firms.all_firms())
    a, b = runs
    common = np.setdiff1d(np.intersect1d(a["firm_id"], b["firm_id"]), [killed])
    ia, ib = np.searchsorted(a["firm_id"], common), np.searchsorted(b["firm_id"], common)
    assert len(common) > 1000
    assert [c for c in a if not np.array_equal(a[c][ia], b[c][ib])] == []


def test_exact_inversion_ends_for_huge_means_and_draws_next_to_one():
    from scipy import stats

    from sim.core.streams import binomial_quantile, poisson_quantile

    u = np.array([1 - 1e-9, 1 - 1e-11, 1e-13, 0.5])
    lam = np.array([2e6 + 0.3, 3.3e6 + 0.1, 5e5, 1e4])
    k = poisson_quantile(u, lam)  # used to loop forever on the first two
    assert (k == stats.poisson.ppf(u, lam)).all()
    n = np.array([10**7, 10**7, 10**6, 1000])
    assert (binomial_quantile(u, n, 0.2) == stats.binom.ppf(u, n, 0.2)).all()
    with pytest.raises(ValueError, match="not finite"):
        poisson_quantile(np.array([0.5]), np.array([np.nan]))


def test_two_labels_sharing_one_run_do_not_double_its_sums(files, tmp_path):
    twin = tmp_path / "twin.toml"
    twin.write_text(AWARDS, encoding="utf-8")  # the same package under another file name
    summary, _ = compare(files, tmp_path, files["awards"], twin, reps=3)
    cost = summary[summary["metric"] == "cost_total"].set_index("package")["mean"]
    assert cost["awards"] == cost["twin"] > 0
    ledger_total = summary[
        (summary["metric"] == "cost") & summary["year"].isna() & (summary["package"] == "twin")
    ]
    assert ledger_total["mean"].sum() == pytest.approx(cost["twin"])


def test_a_target_names_exactly_one_goal():
    with pytest.raises(ValueError, match="exactly one of added, per_year, stock"):
        PolicyTarget(tier="srdi", by_year=2027, added=5, stock=10)


def test_a_package_given_where_a_scenario_belongs_says_how_to_lay_it_on_an_economy():
    code, _, err = ladder(
        "compare", str(ROOT / "scenarios" / "packages" / "our-city.toml"), "--reps", "2", "--quiet"
    )
    assert code == 2 and "a policy package, not a scenario" in err and "--economy" in err
