"""Behavioural boundary tests of the rule engine against the real rule files.

Each test builds a few synthetic firms column by column, judges them with the rules in
``scenarios/rules/`` and checks the verdict at the thresholds the policy documents give
(policy-facts §2). Firms start from :func:`model_firm`, which meets every SRDI and little-giant
condition by a margin, and one attribute is then moved to its boundary.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from sim.core.errors import InputError
from sim.core.features import VOCABULARIES as LEVELS
from sim.core.features import Features
from sim.core.firms import FirmState, blank
from sim.core.rules import Judgement, RuleSet, ScoreItem, judge
from sim.core.vocab import TIER_IDS
from sim.io.files import RULES_DIR, load_rules

YEAR = 2024
GLOBAL_MULTIPLE = 5.0  # world niche market = 5 × national niche market


# ----------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def r22() -> RuleSet:
    return load_rules("miit-2022")


@pytest.fixture(scope="module")
def r26() -> RuleSet:
    return load_rules("miit-2026")


def code(attr: str, level: str) -> int:
    """Column code of a categorical level."""
    return LEVELS[attr].index(level)


def model_firm(revenue: float = 8000.0, rd: float | None = None, **cols) -> dict:
    """Column values of a firm that meets SRDI and little giant (2022 and 2026) by a margin.

    Revenue grew 25 % in each of the last two years; R&D is 10 % of revenue in both years
    unless ``rd`` is given (the year before keeps the same proportion). The national niche
    market is sized so that the firm holds 20 % of it. ``cols`` override any column.
    """
    rd = 0.10 * revenue if rd is None else rd
    main_share = cols.get("main_share", 0.95)
    row = {
        "age": 12,
        "revenue": revenue,
        "revenue_prev": revenue / 1.25,
        "revenue_prev2": revenue / 1.25**2,
        "main_share": main_share,
        "rd": rd,
        "rd_prev": rd / 1.25,
        "rd_prev2": rd / 1.25**2,
        "rd_staff_share": 0.25,
        "employees": 200,
        "class1_ip": 5,
        "class2_ip": 3,
        "niche_years": 6,
        "niche_rivals": revenue * main_share / 0.20 - revenue * main_share,
        "debt_ratio": 0.40,
        "net_margin": 0.12,
        "rd_institution": code("rd_institution", "provincial"),
        "digital_level": code("digital_level", "L3"),
        "chain_position": code("chain_position", "chain_gap"),
        "quality_items": 2,
        "distinctiveness": 1.0,
        "high_tech_revenue_share": 0.70,
        "new_product_ratio": 0.50,
        "strategic_emerging": True,
        "mgmt_cert": True,
        "own_brand": True,
        "standard_drafted": True,
        "held_srdi": True,
    }
    row.update(cols)
    return row


def state_of(*rows: dict) -> FirmState:
    """A FirmState with one firm per row; columns a row does not name keep blank() values."""
    state = FirmState()
    state.append(blank(np.arange(1, len(rows) + 1), YEAR))
    for i, row in enumerate(rows):
        for name, value in row.items():
            state[name][i] = value
    return state


def features(*rows: dict) -> Features:
    return Features(state_of(*rows), YEAR, GLOBAL_MULTIPLE)


def verdict(rules: RuleSet, tier: str, *rows: dict) -> Judgement:
    feats = features(*rows)
    holds = {t: feats.state[f"held_{t}"] for t in TIER_IDS}
    return judge(rules.tiers[tier], feats, holds)


def passes(rules: RuleSet, tier: str, *rows: dict) -> list[bool]:
    return verdict(rules, tier, *rows).passed.tolist()


def item(rules: RuleSet, tier: str, item_id: str) -> ScoreItem:
    score = rules.tiers[tier].score
    assert score is not None
    return next(i for i in score.items if i.id == item_id)


def points(rules: RuleSet, tier: str, item_id: str, *rows: dict) -> list[float]:
    return item(rules, tier, item_id).evaluate(features(*rows)).tolist()


# ----------------------------------------------------------------------------- the model firm


def test_model_firm_meets_srdi_and_little_giant_under_both_rule_sets(r22, r26):
    for rules in (r22, r26):
        assert passes(rules, "srdi", model_firm()) == [True]
        assert passes(rules, "little_giant", model_firm()) == [True]
    # ...and only through the score, not a direct route (so the criteria tested below bind)
    crit = verdict(r22, "srdi", model_firm()).criteria
    assert not crit["direct_rd_2y"][0] and not crit["direct_equity"][0]
    assert not crit["direct_st_award"][0] and crit["score_pass"][0]


# ----------------------------------------------------------------------------- SRDI (2022)


def test_srdi_rd_intensity_boundary(r22):
    at = model_firm(revenue=5000.0, rd=0.03 * 5000.0)
    below = model_firm(revenue=5000.0, rd=0.0299 * 5000.0)
    assert at["rd"] / at["revenue"] == 0.03
    assert passes(r22, "srdi", below, at) == [False, True]
    assert verdict(r22, "srdi", below).criteria["rd_intensity"].tolist() == [False]


@pytest.mark.parametrize(("revenue", "rd"), [(4288.0, 128.64), (4313.0, 129.39)])
def test_srdi_rd_intensity_exactly_3pct_in_decimal_passes(r22, revenue, rd):
    # 128.64 / 4288 is exactly 3 % in decimal, but 0.029999999999999995 in float
    v = verdict(r22, "srdi", model_firm(revenue=revenue, rd=rd))
    assert v.criteria["rd_intensity"].tolist() == [True]


def test_srdi_rd_amount_boundary(r22):
    assert passes(r22, "srdi", model_firm(2000.0, rd=99.9), model_firm(2000.0, rd=100.0)) == [
        False,
        True,
    ]


@pytest.mark.parametrize(
    ("revenue", "equity", "equity_prev", "expected"),
    [
        (999.0, 0.0, 0.0, False),
        (999.0, 1000.0, 999.0, False),
        (999.0, 1000.0, 1000.0, True),
        (1000.0, 0.0, 0.0, True),
    ],
)
def test_srdi_revenue_or_equity(r22, revenue, equity, equity_prev, expected):
    firm = model_firm(revenue, rd=100.0, equity=equity, equity_prev=equity_prev)
    assert passes(r22, "srdi", firm) == [expected]


def test_srdi_niche_years_boundary(r22):
    assert passes(r22, "srdi", model_firm(niche_years=1), model_firm(niche_years=2)) == [
        False,
        True,
    ]


# ----------------------------------------------------------------------------- little giant (2022)


def test_little_giant_under_5000_is_judged_by_the_equity_band(r22):
    rich = {"equity": 5000.0, "equity_prev": 3000.0, "rd_staff_share": 0.50}
    rd_rich = {"rd": 1500.0, "rd_prev": 1500.0}
    firms = [
        model_firm(4999.0, rd=0.06 * 4999.0),  # 6 % R&D, no equity
        model_firm(4999.0, **rd_rich, **rich),  # the < 5000万 band met exactly
        model_firm(4999.0, **rd_rich, **(rich | {"equity_prev": 2999.0})),
        model_firm(4999.0, **(rd_rich | {"rd_prev": 1499.0}), **rich),
        model_firm(4999.0, **rd_rich, **(rich | {"rd_staff_share": 0.49})),
        model_firm(5000.0, rd=290.0, rd_prev=2710.0, **rich),  # at 5000万 the band is gone
    ]
    v = verdict(r22, "little_giant", *firms)
    assert v.criteria["band_5000_1e"].tolist() == [False] * 6
    assert v.criteria["innovation_band"].tolist() == [False, True, False, False, False, False]
    assert v.passed.tolist() == [False, True, False, False, False, False]


@pytest.mark.parametrize(
    ("revenue", "rd", "revenue_prev", "rd_prev", "expected"),
    [
        (5000.0, 300.0, 4000.0, 240.0, True),  # 6 % both years
        (5000.0, 295.0, 4000.0, 240.0, False),  # 5.9 % last year
        (5000.0, 300.0, 4000.0, 236.0, False),  # 5.9 % the year before
        (10000.0, 300.0, 8000.0, 240.0, True),  # ≥ 1亿: 3 % both years
        (10000.0, 299.0, 8000.0, 240.0, False),
        (9999.0, 500.0, 8000.0, 400.0, False),  # just under 1亿: 5 % is not enough
    ],
)
def test_little_giant_rd_bands(r22, revenue, rd, revenue_prev, rd_prev, expected):
    firm = model_firm(
        revenue,
        rd=rd,
        revenue_prev=revenue_prev,
        revenue_prev2=revenue_prev / 1.25,
        rd_prev=rd_prev,
    )
    assert passes(r22, "little_giant", firm) == [expected]


def test_little_giant_requires_srdi(r22):
    assert passes(r22, "little_giant", model_firm(held_srdi=False), model_firm()) == [False, True]


@pytest.mark.parametrize(
    ("col", "bad", "good"),
    [
        ("niche_years", 2, 3),
        ("main_share", 0.69, 0.70),
        ("debt_ratio", 0.7001, 0.70),
        ("class1_ip", 1, 2),
        ("mgmt_cert", False, True),
        ("own_brand", False, True),
        ("rd_institution", code("rd_institution", "none"), code("rd_institution", "lower")),
    ],
)
def test_little_giant_single_conditions(r22, col, bad, good):
    assert passes(r22, "little_giant", model_firm(**{col: bad}), model_firm(**{col: good})) == [
        False,
        True,
    ]


def test_little_giant_market_share_boundary(r22):
    # national share = revenue × main share / niche market
    firms = [model_firm(niche_rivals=8000 * 0.95 / share - 8000 * 0.95) for share in (0.0999, 0.10)]
    assert passes(r22, "little_giant", *firms) == [False, True]


# ----------------------------------------------------------------------------- innovative SME score


def test_innovative_rd_points(r22):
    firms = [model_firm(5000.0, rd=share * 5000.0) for share in (0.05, 0.0499, 0.03, 0.0099)]
    assert points(r22, "innovative", "rd_intensity", *firms) == [20, 15, 15, 0]


def test_innovative_debt_points(r22):
    firms = [model_firm(debt_ratio=d) for d in (0.55, 0.5501, 0.75, 0.7501)]
    assert points(r22, "innovative", "debt", *firms) == [10, 5, 5, 0]


def test_innovative_growth_points_around_15pct(r22):
    firms = [model_firm(1150.000001, revenue_prev=1000.0), model_firm(1149.0, revenue_prev=1000.0)]
    assert points(r22, "innovative", "growth", *firms) == [20, 15]


def test_innovative_growth_exactly_15pct_gets_20(r22):
    assert points(r22, "innovative", "growth", model_firm(1150.0, revenue_prev=1000.0)) == [20]


def test_innovative_main_share_points(r22):
    firms = [model_firm(main_share=s) for s in (0.70, 0.6999, 0.60, 0.55, 0.50, 0.4999)]
    assert points(r22, "innovative", "main_share", *firms) == [20, 15, 15, 10, 5, 0]


def test_innovative_ip_points(r22):
    firms = [
        model_firm(class1_ip=1, strategic_emerging=True),
        model_firm(class1_ip=1, strategic_emerging=False),
        model_firm(class1_ip=0, class2_ip=1),
        model_firm(class1_ip=0, class2_ip=0),
    ]
    assert points(r22, "innovative", "ip", *firms) == [20, 15, 5, 0]


def innovative_scorer(**cols) -> dict:
    """A firm with no direct route to the innovative SME: only its score can pass it."""
    base = {
        "revenue": 5000.0,
        "revenue_prev": 4000.0,  # growth 25 % → 20
        "debt_ratio": 0.30,  # → 10
        "strategic_emerging": True,  # → 10
        "main_share": 0.90,  # → 20
        "rd": 150.0,  # 3 % → 15
    }
    return base | cols


def test_innovative_category_minimum_binds(r22):
    short = innovative_scorer()  # innovation 15 (no IP), total 75
    enough = innovative_scorer(class2_ip=1)  # innovation 20, total 80
    feats = features(short, enough)
    total, ok = r22.tiers["innovative"].score.evaluate(feats)
    assert total.tolist() == [75, 80]
    assert ok.tolist() == [False, True]
    assert passes(r22, "innovative", short, enough) == [False, True]


def test_innovative_pass_mark(r22):
    # minimums met exactly (innovation 20, growth 15, specialisation 15/20): 55 fails, 60 passes
    low = innovative_scorer(
        class2_ip=1,  # 5
        revenue_prev=4700.0,  # growth 6.4 % → 10
        debt_ratio=0.60,  # → 5
        strategic_emerging=False,  # → 5
        main_share=0.60,  # → 15
    )
    at = low | {"main_share": 0.70}  # → 20
    total, ok = r22.tiers["innovative"].score.evaluate(features(low, at))
    assert total.tolist() == [55, 60]
    assert ok.tolist() == [False, True]


def test_innovative_direct_pass_by_high_tech(r22):
    nothing = {"debt_ratio": 0.9}  # scores 5 of 100 (non-strategic industry)
    v = verdict(r22, "innovative", nothing, nothing | {"held_high_tech": True})
    assert v.score.tolist() == [5, 5]
    assert v.criteria["score_pass"].tolist() == [False, False]
    assert v.passed.tolist() == [False, True]


@pytest.mark.parametrize(
    ("route", "expected"),
    [
        ({"st_award_year": YEAR - 2}, True),
        ({"st_award_year": YEAR - 3}, False),  # award older than 3 years
        ({"rd_institution": code("rd_institution", "provincial")}, True),
        ({"rd_institution": code("rd_institution", "city")}, False),
        ({"equity": 300.0, "equity_prev": 100.0, "equity_prev2": 100.0}, True),
        ({"equity": 300.0, "equity_prev": 100.0, "equity_prev2": 99.0}, False),
    ],
)
def test_innovative_other_direct_routes(r22, route, expected):
    nothing = {"debt_ratio": 0.9}  # scores 5 of 100
    assert passes(r22, "innovative", nothing, nothing | route) == [False, expected]


# ----------------------------------------------------------------------------- SRDI score


@pytest.mark.parametrize(("years", "pts"), [(1, 0), (2, 1), (9, 4), (10, 5), (15, 5)])
def test_srdi_niche_points(r22, years, pts):
    assert points(r22, "srdi", "niche_years", model_firm(niche_years=years)) == [pts]


@pytest.mark.parametrize(("items", "pts"), [(0, 0), (1, 3), (2, 5), (4, 5)])
def test_srdi_quality_points(r22, items, pts):
    assert points(r22, "srdi", "quality", model_firm(quality_items=items)) == [pts]


@pytest.mark.parametrize(
    ("rd", "revenue", "pts"),
    [
        (250.0, 12500.0, 4),  # amount band 200–300万 beats 2 %
        (150.0, 150.0 / 0.09, 8),  # 9 % beats the 100–200万 band
        (600.0, 1000.0, 10),  # both top: capped at 10
        (99.0, 99.0 / 0.029, 0),
    ],
)
def test_srdi_rd_best_of(r22, rd, revenue, pts):
    assert points(r22, "srdi", "rd", model_firm(revenue, rd=rd)) == [pts]


# model_firm scores 50 of 100 on the SRDI table with these (rd_2y_mean 720万, no direct route)
WEAK = {
    "distinctiveness": 0.0,
    "digital_level": 0,
    "quality_items": 0,
    "net_margin": 0.02,
    "chain_position": 0,
    "rd_institution": 0,
}


def test_srdi_score_pass_mark_60(r22):
    better = WEAK | {"digital_level": code("digital_level", "L2"), "quality_items": 3}  # +8
    v = verdict(
        r22,
        "srdi",
        model_firm(**WEAK),
        model_firm(**better),
        model_firm(**(better | {"rd_institution": code("rd_institution", "lower")})),  # +2
    )
    assert v.score.tolist() == [50, 58, 60]
    assert v.passed.tolist() == [False, False, True]


# ----------------------------------------------------------------------------- hidden champion

INDICATOR_OFF = {
    "focus": {"main_share": 0.60},
    "quality": {"quality_items": 1},
    "standards_ip": {"standard_drafted": False, "class1_ip": 4},
    "innovation": {"new_product_ratio": 0.30},
}


@pytest.mark.parametrize(
    "on", [c for k in range(5) for c in itertools.combinations(sorted(INDICATOR_OFF), k)]
)
def test_hidden_champion_needs_two_of_four(r22, on):
    cols: dict = {}
    for name, off in INDICATOR_OFF.items():
        if name not in on:
            cols |= off
    v = verdict(r22, "hidden_champion", model_firm(**cols))
    for name in INDICATOR_OFF:
        assert v.criteria[name].tolist() == [name in on]
    assert v.passed.tolist() == [len(on) >= 2]


def test_hidden_champion_pool_revenue_cap(r22):
    assert passes(r22, "hidden_champion", model_firm(30000.0), model_firm(30001.0)) == [True, False]


# ----------------------------------------------------------------------------- single champion


def champion(revenue: float, **cols) -> dict:
    """Ten years in the niche, all sales in the product, 60 % of the national niche (12 % world),
    an invention patent, a standard drafted, a quality item and a management certificate."""
    base = {
        "revenue_prev": revenue,
        "revenue_prev2": revenue,
        "main_share": 1.0,
        "niche_years": 10,
        "niche_rivals": revenue / 0.60 - revenue,
        "standard_drafted": True,
        "quality_items": 1,
        "mgmt_cert": True,
    }
    return model_firm(revenue, **(base | cols))


# The rest of the industry: large and at zero margin, so the overall margin is just above zero
# and the champions' 12 % beats it (利润率超过同期同行业企业的总体水平).
INDUSTRY = {"revenue": 1e6, "net_margin": 0.0, "held_srdi": False}


def champions_pass(rules: RuleSet, *firms: dict) -> list[bool]:
    """Whether each firm passes the champion rule, judged beside the rest of its industry."""
    return passes(rules, "single_champion", *firms, model_firm(**INDUSTRY))[:-1]


def test_single_champion_under_4e_needs_little_giant(r22):
    firms = [
        champion(39999.0),
        champion(39999.0, held_little_giant=True),
        champion(40000.0),
    ]
    assert champions_pass(r22, *firms) == [False, True, True]


@pytest.mark.parametrize(
    ("cols", "expected"),
    [
        ({}, True),
        ({"class1_ip": 0}, False),  # no core invention patent
        ({"standard_drafted": False}, False),
        ({"quality_items": 0}, False),
        ({"mgmt_cert": False}, False),
    ],
)
def test_single_champion_innovation_and_quality_tests(r22, cols, expected):
    assert champions_pass(r22, champion(40000.0, **cols)) == [expected]


def test_single_champion_must_beat_the_industry_margin(r22):
    """Profit rate above the industry's overall level: equal to it fails, just above passes."""
    industry = model_firm(revenue=40000.0, net_margin=0.05)
    at, above = champion(40000.0, net_margin=0.05), champion(40000.0, net_margin=0.0501)
    assert passes(r22, "single_champion", at, industry) == [False, False]
    assert passes(r22, "single_champion", above, industry)[0]


@pytest.mark.parametrize(
    ("cols", "expected"),
    [
        ({"niche_years": 9}, False),
        ({"main_share": 0.69}, False),
        ({"niche_rivals": 40000.0 / 0.4999 - 40000.0}, False),  # global share just under 10 %
    ],
)
def test_single_champion_other_conditions(r22, cols, expected):
    assert champions_pass(r22, champion(40000.0, **cols)) == [expected]


# ----------------------------------------------------------------------------- key little giant


@pytest.mark.parametrize(
    ("cols", "expected"),
    [
        ({}, True),
        ({"held_little_giant": False}, False),
        ({"listed": True}, False),
        ({"rd": 0.039 * 8000.0}, False),
        ({"revenue_prev": 8000.0, "revenue_prev2": 8000.0}, False),  # no growth last year
        ({"class1_ip": 0, "rd_institution": 0, "standard_drafted": False}, False),
        ({"class1_ip": 0, "rd_institution": 0}, True),  # a standard is enough
    ],
)
def test_key_little_giant(r22, cols, expected):
    firm = model_firm(**({"held_little_giant": True} | cols))
    assert passes(r22, "key_little_giant", firm) == [expected]


# ----------------------------------------------------------------------------- 2026 revision


def test_2026_loads_unverified_with_same_tiers(r22, r26):
    assert r26.meta.id == "miit-2026"
    assert r26.meta.verified is False and r22.meta.verified is True
    assert r26.meta.in_force_from == "2026-04-01"
    assert r26.order == r22.order
    assert r26.tiers["innovative"].name_zh == "科技和创新型中小企业"
    for tier in ("high_tech", "hidden_champion", "key_little_giant", "single_champion"):
        assert r26.tiers[tier] == r22.tiers[tier]


def test_2026_every_criterion_cites_a_source(r26):
    for tier, rule in r26.tiers.items():
        top = rule.eligibility.all or rule.eligibility.any or [rule.eligibility]
        for node in top:
            assert node.source, (tier, node.id)
    for tier in ("srdi", "little_giant"):
        for node in r26.tiers[tier].eligibility.walk():
            if node is not r26.tiers[tier].eligibility:
                assert node.source and "2026" in node.source, (tier, node.id)


def test_2026_srdi_needs_80pct_main_share(r22, r26):
    firm = model_firm(main_share=0.75)
    assert passes(r22, "srdi", firm) == [True]
    v = verdict(r26, "srdi", firm)
    assert v.passed.tolist() == [False]
    assert v.criteria["main_share"].tolist() == [False]


@pytest.mark.parametrize(
    ("cols", "expected"),
    [
        ({}, True),
        ({"niche_years": 2}, False),
        ({"revenue": 1499.0, "rd": 150.0}, False),
        ({"revenue": 1500.0, "rd": 150.0}, True),
        ({"revenue": 1499.0, "rd": 150.0, "equity": 1000.0, "equity_prev": 1000.0}, True),
        ({"revenue": 1499.0, "rd": 150.0, "equity": 1000.0, "equity_prev": 999.0}, False),
        ({"main_share": 0.80}, True),
        ({"debt_ratio": 0.80}, True),
        ({"debt_ratio": 0.8001}, False),
        ({"revenue": 2000.0, "rd": 200.0, "rd_prev": 99.0}, False),  # 6.2 % but < 100万
        ({"revenue": 2000.0, "rd": 200.0, "rd_prev": 100.0}, True),
        ({"rd_prev": 0.029 * 6400.0}, False),  # 2.9 % the year before
        ({"rd": 0.029 * 8000.0}, False),  # 2.9 % last year
        ({"class1_ip": 1}, True),
        ({"class1_ip": 0}, False),
    ],
)
def test_2026_srdi_conditions(r26, cols, expected):
    assert passes(r26, "srdi", model_firm(**cols)) == [expected]


def test_2026_srdi_pass_mark_is_50(r22, r26):
    assert r26.tiers["srdi"].score.pass_mark == 50
    firms = [model_firm(**WEAK), model_firm(**(WEAK | {"net_margin": 0.0}))]
    v = verdict(r26, "srdi", *firms)
    assert v.score.tolist() == [50, 48]
    assert v.passed.tolist() == [True, False]
    assert passes(r22, "srdi", *firms) == [False, False]


@pytest.mark.parametrize(
    ("cols", "expected"),
    [
        ({}, True),
        ({"held_srdi": False}, False),
        ({"revenue": 4999.0}, False),
        ({"main_share": 0.90}, True),
        ({"main_share": 0.89}, False),
        ({"debt_ratio": 0.7501}, False),
        ({"class1_ip": 3}, False),
        ({"rd": 600.0, "rd_prev": 599.0}, False),  # 2-year R&D 1199万 (7.5 % share)
        ({"niche_rivals": 8000 * 0.95 / 0.0999 - 8000 * 0.95}, False),
    ],
)
def test_2026_little_giant_conditions(r26, cols, expected):
    assert passes(r26, "little_giant", model_firm(**cols)) == [expected]


def test_2026_little_giant_score_reuses_srdi_table(r26):
    lg, srdi = r26.tiers["little_giant"].score, r26.tiers["srdi"].score
    assert lg.items == srdi.items and lg.categories == srdi.categories
    assert lg.pass_mark == 60
    v = verdict(r26, "little_giant", model_firm(**WEAK))
    assert v.score.tolist() == [50]
    assert v.criteria["score_pass"].tolist() == [False]
    assert v.passed.tolist() == [False]


# ----------------------------------------------------------------------------- rule-set queries


def test_notches(r22):
    assert 0.03 in r22.notches("rd_intensity").tolist()
    assert {1000.0, 5000.0, 10000.0} <= set(r22.notches("revenue").tolist())
    assert r22.notches("listed").size == 0


def test_dependants(r22):
    deps = r22.dependants("srdi")
    assert "little_giant" in deps and "key_little_giant" in deps
    assert "innovative" not in deps and "single_champion" not in deps
    assert r22.dependants("single_champion") == []


# ----------------------------------------------------------------------------- malformed files

SRDI_NAME = 'name_zh = "专精特新中小企业"'


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (SRDI_NAME, SRDI_NAME + '\ncolour = "red"', "tiers.srdi.colour: unknown key"),
        (
            'attr = "niche_years", op = ">=", value = 2',
            'attr = "niche_yrs", op = ">=", value = 2',
            "unknown firm attribute 'niche_yrs'",
        ),
        (
            "categories.innovation = { max = 40, min = 20 }",
            "categories.innovation = { max = 30, min = 20 }",
            "items can give 40 > max 30",
        ),
        ('value = "provincial"', 'value = "regional"', "unknown level 'regional'"),
        ('requires = ["srdi"]', 'requires = ["srdii"]', "unknown tier 'srdii'"),
        ("order = [", 'order = ["srdi", ', "order must list every tier exactly once"),
        ("[meta]", "[meta", "not valid TOML"),
    ],
)
def test_malformed_rule_file(tmp_path: Path, old, new, message):
    text = (RULES_DIR / "miit-2022.toml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "broken.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_rules(str(path))
    assert str(path) in str(err.value)
    assert message in str(err.value)


def test_missing_rule_set_lists_the_known_ones():
    with pytest.raises(InputError, match="miit-2022"):
        load_rules("no-such-rules")


def test_unmodified_copy_loads(tmp_path: Path, r22):
    path = tmp_path / "copy.toml"
    path.write_text((RULES_DIR / "miit-2022.toml").read_text(encoding="utf-8"), encoding="utf-8")
    assert load_rules(str(path)) == r22


def test_numpy_rows_are_independent(r22):
    # one vectorised call gives the same verdicts as separate calls
    firms = [model_firm(main_share=s) for s in np.linspace(0.5, 1.0, 6)]
    together = passes(r22, "little_giant", *firms)
    alone = [passes(r22, "little_giant", f)[0] for f in firms]
    assert together == alone and any(together) and not all(together)


def test_the_2026_revision_marks_every_criterion_it_states_as_unverified():
    """Per criterion: no threshold of 工信部企业〔2026〕2号 was read in the official text."""
    r26, r22 = load_rules("miit-2026"), load_rules("miit-2022")
    stated = [
        c
        for tier in ("srdi", "little_giant")
        for c in r26.tiers[tier].eligibility.walk()
        if c.id and c.id not in {n.id for n in r22.tiers[tier].eligibility.walk()} | {"sme"}
    ]
    assert stated and all(c.verified is False for c in stated)
    champion_tests = {c.id: c.verified for c in r22.tiers["single_champion"].eligibility.walk() if c.id}
    assert champion_tests["profitable"] is False and champion_tests["years_in_field"] is None
