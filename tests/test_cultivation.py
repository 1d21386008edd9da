"""Cultivation lists: the gaps come from the certification rule evaluator itself.

A firm that does not hold a tier misses no criterion exactly when the evaluator passes it; the
gaps name the failing test with its value, threshold and the change needed (the issue's
example: R&D 2.7 % of a 12,000万 revenue against the SRDI 3 %: +36万); ``ladder cultivate``
writes the lists as UTF-8-BOM CSV and an Excel workbook, the same bytes for the same seed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.analysis.cultivation import cultivation_lists
from sim.app.cli import main
from sim.core.gaps import gaps
from sim.core.rules import judge
from sim.core.vocab import TIER_IDS
from sim.io.files import load_rules, open_model
from tests.conftest import BASELINE
from tests.test_rules import features, model_firm


@pytest.fixture(scope="module")
def r22():
    return load_rules("miit-2022")


@pytest.fixture(scope="module")
def economy():
    return open_model(
        BASELINE, ["population.firms=1500", "certification.warmup_years=2"], rng=3, agents=False
    )


def test_detail_changes_no_verdict_and_no_missed_criterion_means_eligible(economy):
    feats, state = economy.features(), economy.firms
    holds = {t: state[f"held_{t}"] for t in TIER_IDS}
    for tier, rule in economy.rules.tiers.items():
        plain = judge(rule, feats, holds)
        detailed = judge(rule, feats, holds, detail=True)
        assert np.array_equal(plain.passed, detailed.passed)
        found = gaps(rule, detailed)
        assert np.array_equal(found.missed == 0, detailed.passed), tier
        on_route = sum(on.astype(int) for on in found.route.values())
        assert np.all(on_route >= found.missed), tier  # every missed criterion has a listed gap


def test_srdi_rd_gap_in_percent_and_wan(r22):
    feats = features(model_firm(revenue=12000.0, rd=0.027 * 12000.0))
    holds = {t: feats.state[f"held_{t}"] * False for t in TIER_IDS}
    ranking, table = cultivation_lists(r22, feats, holds, np.array([7]))
    srdi = table[table["tier"] == "srdi"]
    assert list(srdi["criterion"]) == ["rd_intensity"]
    row = srdi.iloc[0]
    assert row["value"] == pytest.approx(0.027) and row["threshold"] == 0.03
    assert row["gap_wan"] == pytest.approx(36.0)
    assert row["text"] == "R&D share of revenue 2.70%, needs ≥ 3.00%: +36.0万"
    assert ranking.set_index("tier").loc["srdi", "missed"] == 1


def test_any_route_lists_only_the_cheapest_alternative(r22):
    # not an SME: 1,200 employees (20 % over 1,000) and revenue 5亿 (25 % over 4亿)
    feats = features(model_firm(revenue=50000.0, employees=1200))
    verdict = judge(r22.tiers["srdi"], feats, {t: feats.state[f"held_{t}"] for t in TIER_IDS}, detail=True)
    found = gaps(r22.tiers["srdi"], verdict)
    failing = {found.checks[p].label for p, on in found.route.items() if on[0]}
    assert failing == {"sme:employees<1000"}
    assert found.missed.tolist() == [1]


def test_prerequisite_counts_as_a_missed_criterion(r22):
    feats = features(model_firm(held_srdi=False))
    holds = {t: feats.state[f"held_{t}"] for t in TIER_IDS}
    found = gaps(r22.tiers["little_giant"], judge(r22.tiers["little_giant"], feats, holds, detail=True))
    assert found.missed.tolist() == [1]
    assert found.route["requires.srdi"].tolist() == [True]


def test_cultivate_command_writes_bom_csv_and_identical_excel(tmp_path):
    args = [
        "cultivate",
        str(BASELINE),
        "--set",
        "population.firms=400",
        "--set",
        "certification.warmup_years=1",
    ]
    assert main([*args, "--out", str(tmp_path / "a"), "--top", "5"]) == 0
    assert main([*args, "--out", str(tmp_path / "b"), "--top", "5"]) == 0
    for name in ("ranking.csv", "gaps.csv", "cultivation.xlsx"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert (tmp_path / "a" / "gaps.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    ranking = pd.read_csv(tmp_path / "a" / "ranking.csv", encoding="utf-8-sig")
    sheet = pd.read_excel(tmp_path / "a" / "cultivation.xlsx", sheet_name="ranking")
    assert sheet["rank"].max() == 5 and set(sheet["tier"]) <= set(ranking["tier"])
    for _, mine in ranking.groupby("tier"):
        assert mine["rank"].tolist() == list(range(1, len(mine) + 1))
        assert mine["missed"].is_monotonic_increasing
    assert main([*args, "--at", "end", "--years", "2", "--out", str(tmp_path / "end"), "--top", "5"]) == 0
    end = pd.read_csv(tmp_path / "end" / "ranking.csv", encoding="utf-8-sig")
    assert end["firm_id"].max() > 2024 * 10**8  # the end state holds the entrants of the run
