"""Rule-revision impact: the same firms under MIIT 2022 and the 2026 revision.

A firm's change of verdict and its reason come from the certification rule evaluator and the
cultivation gaps (a holder with a main-business share of 75 % keeps SRDI under 2022, loses it at
review under the 2026 revision's 80 %); identical rule sets change nobody; the command writes
the firm list, the summary with intervals and the paired stock change; bad rule names and
switch years are one line, exit 2.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.analysis.rules_impact import firm_changes
from sim.app.cli import main
from sim.core.vocab import TIER_IDS
from sim.io.files import load_rules, open_model
from tests.conftest import BASELINE
from tests.test_rules import features, model_firm


@pytest.fixture(scope="module")
def r22():
    return load_rules("miit-2022")


@pytest.fixture(scope="module")
def r26():
    return load_rules("miit-2026")


def changes_of(base, revision, *rows):
    feats = features(*rows)
    state = feats.state
    holds = {t: state[f"held_{t}"] for t in TIER_IDS}
    expires = {t: np.where(holds[t], 2027, -1) for t in TIER_IDS}
    return firm_changes(base, revision, feats, holds, state["firm_id"], expires, 2026)


def test_holder_below_the_revised_main_share_loses_srdi_at_review(r22, r26):
    found = changes_of(r22, r26, model_firm(main_share=0.75), model_firm())
    srdi = found[found["tier"] == "srdi"]
    assert srdi[["firm_id", "change", "year", "criteria"]].values.tolist() == [
        [1, "loses at review", 2027, "main_share"]
    ]
    assert "main-business share of revenue 75.00%, needs ≥ 80.00%" in srdi["reasons"].iloc[0]
    giant = found[found["tier"] == "little_giant"]  # applicants: 2022 asks 70 %, 2026 asks 90 %
    assert giant[["firm_id", "change", "year"]].values.tolist()[0] == [1, "loses eligibility", 2026]
    assert "main_share" in giant["criteria"].iloc[0]


def test_identical_rules_change_nobody(r22):
    model = open_model(BASELINE, ["population.firms=1500"], rng=2, agents=False)
    state = model.firms
    holds = {t: state[f"held_{t}"] for t in TIER_IDS}
    expires = {t: state[f"expires_{t}"] for t in TIER_IDS}
    found = firm_changes(r22, r22, model.features(), holds, state["firm_id"], expires, 2025)
    assert found.empty


def test_rules_impact_command(tmp_path, capsys):
    out = tmp_path / "impact"
    args = [
        "rules-impact",
        str(BASELINE),
        "--rules",
        "miit-2026",
        "--reps",
        "2",
        "--years",
        "3",
        "--workers",
        "1",
    ]
    assert main([*args, "--quiet", "--out", str(out)]) == 0
    assert (out / "manifest.json").is_file()
    firms = pd.read_csv(out / "firms.csv", encoding="utf-8-sig")
    assert (out / "firms.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert set(firms["replication"]) == {0, 1} and set(firms["year"]) >= {2026}
    losses = firms[firms["change"] == "loses at review"]
    assert len(losses) and losses["criteria"].str.len().gt(0).all()
    changes = pd.read_csv(out / "changes.csv", encoding="utf-8-sig")
    total = changes[
        (changes["tier"] == "srdi") & (changes["change"] == "loses at review") & (changes["year"] == "all")
    ]
    per_rep = losses[losses["tier"] == "srdi"].groupby("replication").size().reindex([0, 1], fill_value=0)
    assert total["mean"].iloc[0] == pytest.approx(per_rep.mean())
    stocks = pd.read_csv(out / "stock_change.csv", encoding="utf-8-sig")
    before = stocks[stocks["year"] < 2026]
    assert (before["mean"] == 0).all()  # the arms are the same run until the switch
    capsys.readouterr()
    assert main(["rules-impact", str(BASELINE), "--rules", "miit-2099", "--out", str(tmp_path / "x")]) == 2
    assert "rule set not found; available: miit-2022, miit-2026" in capsys.readouterr().err
    assert main([*args, "--from-year", "2040", "--out", str(tmp_path / "y")]) == 2
    assert "--from-year 2040" in capsys.readouterr().err


def test_a_revision_given_as_a_file_is_the_one_judged_firm_by_firm(tmp_path):
    """The firm lists judge the rule set the revised arm runs, not the library file of its id."""
    from sim.analysis.rules_impact import plan_impact
    from sim.io.files import RULES_DIR

    edited = tmp_path / "miit-2026.toml"
    text = (RULES_DIR / "miit-2026.toml").read_text(encoding="utf-8")
    text = text.replace('extends = "miit-2022.toml"', f'extends = "{RULES_DIR / "miit-2022.toml"}"')
    edited.write_text(text.replace('op = ">=", value = 0.80', 'op = ">=", value = 0.75', 1), encoding="utf-8")
    plan = plan_impact(BASELINE, str(edited), years=3)

    def thresholds(rules):
        return [n.value for n in rules.tiers["srdi"].eligibility.walk() if n.attr == "main_share"]

    assert thresholds(plan.revised_rules) == [0.75]
    assert thresholds(load_rules("miit-2026")) == [0.80]
