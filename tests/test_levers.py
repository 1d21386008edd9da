"""Each lever's cost reaches the ledger, caps hold, and behaviour responds."""

import numpy as np
import pytest

from sim.core.ledger import Budget, Demand, Ledger, ration
from sim.core.streams import Streams
from sim.core.vocab import TIER_IDS
from sim.io.files import open_model
from tests.conftest import BASELINE

SMALL = ["population.firms=1500"]

AWARD_SRDI = 'levers.award={items=[{tier="srdi", level="city", amount=10}]}'
RD_SUBSIDY = 'levers.rd_subsidy={level="county", rate=0.1, cap_per_firm=50, above_scale_only=true}'
LOAN = (
    'levers.loan_subsidy={level="city", borrower_share=0.3, loan_to_revenue=0.2, discount=0.01,'
    ' guarantee=true, guarantee_coverage=0.8, guarantee_default_rate=0.02, min_tier="srdi"}'
)
TALENT = (
    'levers.talent_grant={level="county", max_grants_per_year=40, types=['
    '{id="scholar", amount=10, years=3, hires_per_100_employees=2.0}]}'
)
PROJECT = (
    'levers.rd_project={level="city", min_rd=100, city_projects_per_year=5, city_amount_max=100,'
    " city_amount_share_of_rd=0.3, higher_projects_rate=0.05, higher_amount_median=200,"
    " match_ratio=1.0, match_cap=100}"
)
KEY_FUND = (
    'levers.key_little_giant_fund={items=[{tier="key_little_giant", level="national", amount=600,'
    " schedule=[{after_years=0, share=0.5}, {after_years=2, share=0.5, review=true}]}],"
    " review_pass_probability=1.0}"
)


def run(settings, years=5, seed=1):
    model = open_model(BASELINE, [*SMALL, f"run.years={years}", *settings], rng=seed)
    for _ in range(years):
        model.step()
    return model


def frame(model):
    return model.datacollector.get_model_vars_dataframe()


def test_srdi_award_spend_equals_amount_times_first_certificates():
    model = run([AWARD_SRDI], years=6)
    ledger = model.policy.ledger.table()
    assert set(ledger["lever"]) == {"award"} and set(ledger["tier"]) == {"srdi"}
    first = model.firms.all_firms()["first_srdi"]
    years = range(2024, 2030)
    firsts = np.array([np.count_nonzero(first == y) for y in years])
    spent = ledger.set_index("year")["amount_wan"].reindex(years, fill_value=0.0)
    assert firsts.sum() > 0
    assert np.allclose(spent.to_numpy(), 10.0 * firsts)


def test_award_paid_on_every_new_certificate_unless_first_time_only():
    model = run([AWARD_SRDI, "levers.award.first_time_only=false"], years=6)
    new = frame(model).set_index("year")["new.srdi"].iloc[1:]
    spent = model.policy.ledger.table().set_index("year")["amount_wan"]
    assert np.allclose(spent.reindex(new.index, fill_value=0.0).to_numpy(), 10.0 * new.to_numpy())


def test_award_on_renewal_also_pays_renewed_certificates():
    model = run([AWARD_SRDI, "levers.award.on_renewal=true", "levers.award.first_time_only=false"], years=6)
    f = frame(model).iloc[1:]
    total = model.policy.ledger.table()["amount_wan"].sum()
    assert f["renewed.srdi"].sum() > 0
    assert total == pytest.approx(10.0 * (f["new.srdi"].sum() + f["renewed.srdi"].sum()))


@pytest.mark.parametrize("setting", [AWARD_SRDI, RD_SUBSIDY, LOAN, TALENT, PROJECT])
def test_every_lever_that_costs_money_shows_up_in_the_ledger(setting):
    model = run([setting])
    ledger = model.policy.ledger
    table = ledger.table()
    lever = setting.split("=")[0].split(".")[1]
    assert (table["lever"] == lever).all() and table["amount_wan"].sum() > 0
    assert table["amount_wan"].sum() == pytest.approx(ledger.firm_rows()["amount_wan"].sum())
    assert table["amount_wan"].sum() == pytest.approx(ledger.total())
    assert list(table.columns) == ["year", "lever", "level", "tier", "firms", "amount_wan"]


def test_no_lever_no_spend():
    assert run([]).policy.ledger.total() == 0.0


@pytest.mark.parametrize("rule", ["rank", "pro_rata", "stop"])
def test_no_year_exceeds_the_cap_and_unmet_demand_is_recorded(rule):
    cap = 300.0
    model = run([RD_SUBSIDY, f"levers.rd_subsidy.budget={{caps={{county={cap}}}, rationing='{rule}'}}"])
    per_year = model.policy.ledger.table().groupby("year")["amount_wan"].sum()
    assert (per_year <= cap + 1e-6).all()
    budget = model.policy.ledger.budget_table()
    assert (budget["unmet_wan"] > 0).any()
    assert np.allclose(budget["demand_wan"], budget["paid_wan"] + budget["unmet_wan"])


def test_loan_subsidy_costs_discount_plus_guarantee_losses_on_loan_volume():
    model = run([LOAN], years=1)
    rows = model.policy.ledger.firm_rows()
    firms = model.firms.all_firms()
    revenue = firms["revenue"][np.searchsorted(firms["firm_id"], rows["firm_id"])]
    expected = 0.2 * revenue * (0.01 + 0.02 * 0.8)
    assert len(rows) > 0 and np.allclose(rows["amount_wan"], expected)


def test_talent_grants_respect_the_yearly_cap_and_pay_for_three_years():
    model = run([TALENT], years=5)
    rows = model.policy.ledger.firm_rows()
    assert rows.groupby("year").size().max() <= 40 * 3  # new grants ≤ 40 plus two older cohorts
    first = rows[rows["year"] == 2024]
    assert 0 < len(first) <= 40
    later = rows[rows["year"] == 2026]
    assert set(first["firm_id"]) & set(later["firm_id"]), "multi-year grants are paid again"


def test_rd_projects_go_to_the_strongest_applicants_within_limits():
    model = run([PROJECT], years=3)
    rows = model.policy.ledger.firm_rows()
    assert (rows["amount_wan"] <= 100 + 1e-9).all()
    assert len(rows) >= 5


def test_key_little_giant_fund_pays_half_now_and_half_two_years_later():
    model = run([KEY_FUND, "certification.apply_probability.key_little_giant=1.0"], years=5)
    rows = model.policy.ledger.firm_rows()
    assert set(rows["amount_wan"].round(6)) <= {300.0}
    first_paid = rows.groupby("firm_id")["year"].min()
    again = rows[rows.duplicated("firm_id", keep="first")]
    for firm_id, year in again.groupby("firm_id")["year"].min().items():
        assert year == first_paid[firm_id] + 2


INSTALMENTS = (
    'levers.award={items=[{tier="srdi", level="city", amount=10, schedule=['
    "{after_years=0, share=0.5}, {after_years=2, share=0.5, review=true}]}], review_pass_probability=1.0}"
)


def test_second_instalment_is_paid_two_years_after_the_first_to_firms_still_alive():
    model = run([INSTALMENTS], years=5)
    rows = model.policy.ledger.firm_rows()
    first = rows.groupby("firm_id")["year"].min()
    second = rows[rows.duplicated("firm_id", keep="first")].set_index("firm_id")["year"]
    assert len(second) > 0, "the horizon must reach second instalments"
    assert (second == first[second.index] + 2).all()
    assert set(rows["amount_wan"].round(9)) == {5.0}
    # every firm paid up front in the first three years and alive two years later got its second half
    due = first[first <= 2026]
    alive_then = [f for f, y in due.items() if model.firms.rows_of([f])[0] >= 0]
    assert set(alive_then) <= set(second.index)


def test_instalments_under_review_are_withheld_when_reviews_fail():
    model = run([INSTALMENTS.replace("review_pass_probability=1.0", "review_pass_probability=0.5")], years=5)
    rows = model.policy.ledger.firm_rows()
    first = rows.groupby("firm_id")["year"].min()
    due = [f for f, y in first.items() if y <= 2026 and model.firms.rows_of([f])[0] >= 0]
    paid_again = set(rows[rows.duplicated("firm_id", keep="first")]["firm_id"])
    share = len(paid_again & set(due)) / len(due)
    assert 0.3 < share < 0.7


def test_awards_raise_the_probability_of_applying():
    model = run([AWARD_SRDI, "levers.award.apply_award_scale=10"], years=1)
    base = dict(model.scenario.certification.apply_probability)
    raised = model.policy.incentives(model.firms, model.rules, base).apply_probability
    assert raised["srdi"] > base["srdi"]
    assert raised["innovative"] == base["innovative"]


def test_rd_subsidy_raises_rd_against_a_paired_run():
    strong = RD_SUBSIDY.replace("rate=0.1", "rate=0.5").replace("cap_per_firm=50", "cap_per_firm=5000")
    gains = []
    for seed in (1, 2, 3):
        with_sub = frame(run([strong, "levers.rd_subsidy.additionality=1.0"], seed=seed))
        without = frame(run([], seed=seed))
        gains.append(with_sub["rd_total"].iloc[-1] / without["rd_total"].iloc[-1])
    assert np.mean(gains) > 1.05


def test_ration_rules():
    tiebreak = np.random.default_rng(0).random(3)
    amount = np.array([50.0, 30.0, 20.0])
    priority = np.array([1.0, 3.0, 2.0])
    assert ration(amount, priority, 1000.0, "rank", tiebreak).tolist() == [50.0, 30.0, 20.0]
    assert ration(amount, priority, 55.0, "rank", tiebreak).tolist() == [0.0, 30.0, 20.0]
    assert ration(amount, priority, 50.0, "pro_rata", tiebreak).tolist() == [25.0, 15.0, 10.0]
    paid = ration(amount, priority, 60.0, "stop", tiebreak)
    assert paid.sum() <= 60.0 and set(paid) <= {0.0, 50.0, 30.0, 20.0}


def test_ledger_settle_caps_each_paying_level_separately():
    ledger = Ledger()
    demand = Demand(
        "award",
        np.arange(4),
        np.full(4, 10.0),
        np.array([2, 2, 3, 3], np.int8),
        np.full(4, TIER_IDS.index("srdi"), np.int8),
        np.zeros(4),
    )
    paid = ledger.settle(2024, demand, Budget(caps={"city": 10.0}), Streams(1).year(2024))
    assert paid[:2].sum() == 10.0 and paid[2:].sum() == 20.0
    assert ledger.total() == 30.0
    unmet = ledger.budget_table().set_index("level")["unmet_wan"]
    assert unmet["city"] == 10.0 and unmet["county"] == 0.0


def test_ration_pays_committed_entries_first_under_every_rule():
    amount = np.array([40.0, 40.0, 30.0, 30.0])
    priority = np.array([0.0, 0.0, 9.0, 8.0])  # new demand outranks by priority, but is not promised
    committed = np.array([True, True, False, False])
    for rule in ("rank", "stop"):
        paid = ration(amount, priority, 100.0, rule, np.random.default_rng(3).random(4), committed)
        assert paid[:2].tolist() == [40.0, 40.0], rule
        assert paid[2:].sum() <= 20.0, rule
    paid = ration(amount, priority, 100.0, "pro_rata", np.random.default_rng(3).random(4), committed)
    assert paid.tolist() == pytest.approx([40.0, 40.0, 10.0, 10.0])
    paid = ration(amount, priority, 60.0, "pro_rata", np.random.default_rng(3).random(4), committed)
    assert paid.tolist() == pytest.approx([30.0, 30.0, 0.0, 0.0])


def test_commitments_are_paid_before_new_demand_when_the_cap_binds():
    capped = INSTALMENTS.replace(
        "review_pass_probability=1.0", "review_pass_probability=1.0, budget={caps={city=40}}"
    )
    model = run([capped], years=5)
    rows = model.policy.ledger.firm_rows()
    budget = model.policy.ledger.budget_table().set_index("year")
    assert (budget["unmet_wan"] > 0).sum() >= 2, "the cap must bind in several years"
    assert (rows.groupby("year")["amount_wan"].sum() <= 40 + 1e-6).all()
    # a second instalment is due two years after a first payment: each one due to a live firm is paid
    first = rows.groupby("firm_id")["year"].min()
    for firm_id, year in first.items():
        if year + 2 <= 2028 and model.firms.rows_of([firm_id])[0] >= 0:
            assert ((rows.firm_id == firm_id) & (rows.year == year + 2)).any(), firm_id


def test_every_lever_declares_its_schema_labels_and_traits_and_is_in_the_levers_schema():
    from sim.core.levers import LEVERS, Levers
    from sim.core.levers.base import TRAITS

    assert list(LEVERS) == [
        "award",
        "key_little_giant_fund",
        "rd_subsidy",
        "loan_subsidy",
        "talent_grant",
        "rd_project",
    ]  # payment order: levers draw random numbers in this order
    for lever_id, cls in LEVERS.items():
        assert cls.label_en and cls.label_zh and cls.traits <= TRAITS
        assert Levers.model_fields[lever_id].annotation == cls.Config | None


def test_a_new_lever_module_is_found_without_naming_it_anywhere_else():
    from sim.core.levers import _discover
    from sim.core.levers.base import LeveledLever, Lever

    class EquityConfig(LeveledLever):
        share: float = 0.1

    class Equity(Lever, id="equity_investment", order=70, config=EquityConfig):
        label_en, label_zh = "Equity investment", "股权投资"

        def pay(self, s, ctx) -> None:
            pass

    found = _discover()
    assert found["equity_investment"] is Equity and list(found)[-1] == "equity_investment"
    with pytest.raises(TypeError, match="unknown trait"):

        class Bad(Lever, id="bad", order=80, config=EquityConfig, traits={"free_money"}):
            pass


def test_pro_rata_under_a_zero_cap_pays_nothing():
    paid = ration(np.array([5.0, 5.0]), np.zeros(2), 0.0, "pro_rata", np.array([0.3, 0.7]))
    assert paid.tolist() == [0.0, 0.0]
