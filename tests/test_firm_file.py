"""Our own firms: ``population.from_file`` replaces the synthetic draw.

The shipped example (``scenarios/firms/our-firms.csv``, synthetic firms) is read as given —
values, tiers held and since when — with no warm-up; what it leaves blank is imputed
conditional on what it gives; a bad file is refused whole with one message listing every bad
cell (row, column, value, what is allowed), exit 2, and nothing written. A property-based test
covers the validator.
"""

from __future__ import annotations

import csv
import json
import string

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.app.cli import main
from sim.core.dynamics import size_factor
from sim.core.errors import InputError
from sim.core.firm_records import BY_NAME
from sim.io.files import load_rules, load_scenario, open_model, run_identity
from sim.io.firm_file import load_firm_file
from tests.conftest import ROOT

EXAMPLE = ROOT / "scenarios" / "firms" / "our-firms.csv"
SCENARIO = ROOT / "scenarios" / "our-firms-yuyao.toml"


@pytest.fixture(scope="module")
def rules():
    return load_rules("miit-2022")


@pytest.fixture(scope="module")
def model():
    return open_model(SCENARIO, rng=4, agents=False)


def test_example_firms_are_the_population_as_given(model):
    table = pd.read_csv(EXAMPLE, encoding="utf-8-sig")
    state = model.firms
    assert model.year == 2023 and state.n == len(table)  # the file's year, no warm-up
    assert np.array_equal(state["firm_id"], np.arange(1, len(table) + 1))
    for column in ("revenue", "rd", "employees", "class1_ip", "debt_ratio", "net_margin", "main_share"):
        assert np.allclose(state[column], table[column]), column
    assert np.array_equal(state["age"], 2023 - table["founded"])
    for tier in ("high_tech", "innovative", "srdi", "little_giant"):
        since = table[f"{tier}_since"]
        held = since.notna().to_numpy()
        assert np.array_equal(state[f"held_{tier}"], held), tier
        assert np.array_equal(state[f"since_{tier}"][held], since[held].astype(int))
        assert np.array_equal(state[f"expires_{tier}"][held], since[held].astype(int) + 3)
    share = table["national_share"].notna().to_numpy()
    assert np.allclose(model.features()["national_share"][share], table["national_share"][share])


def test_blanks_are_imputed_conditional_on_what_is_given(model):
    table = pd.read_csv(EXAMPLE, encoding="utf-8-sig")
    state = model.firms
    # a given headcount fixes revenue per employee; a given R&D ÷ revenue is the firm's target
    # intensity at its size (propensity × size factor)
    assert np.allclose(state["revenue_per_employee"], table["revenue"] / table["employees"])
    dyn, ref = model.scenario.dynamics, model.scenario.population.revenue_median
    assert dyn.rd_size_elasticity < 1.0  # so the size factor is not trivially 1
    at_size = state["rd_propensity"] * size_factor(state["revenue"], dyn, ref)
    assert np.allclose(at_size, table["rd"] / table["revenue"])
    blank = table["rd_prev"].isna().to_numpy()
    assert blank.any()
    prev = state["revenue_prev"][blank]
    ratio = state["rd_prev"][blank] / (state["rd_propensity"][blank] * size_factor(prev, dyn, ref) * prev)
    assert np.all((ratio > 0.3) & (ratio < 3.0))  # the propensity's R&D with the yearly noise only


def test_identical_bytes_and_an_edited_file_is_a_new_run(tmp_path):
    args = ["cultivate", str(SCENARIO), "--top", "3"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    for name in ("ranking.csv", "gaps.csv", "cultivation.xlsx"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["firm_file"]["firms"] == 40
    assert (
        manifest["firm_file"]["imputed"]["rd_prev2"] == 40
        and manifest["firm_file"]["imputed"]["rd_prev"] == 10
    )
    assert "revenue" not in manifest["firm_file"]["imputed"]
    gaps = pd.read_csv(tmp_path / "a" / "gaps.csv", encoding="utf-8-sig")
    assert set(gaps["value_from"]) == {"file", "imputed"}
    assert gaps.loc[gaps["criterion"] == "high_tech_revenue", "value_from"].eq("imputed").all()
    edited = tmp_path / "firms.csv"
    edited.write_text(EXAMPLE.read_text(encoding="utf-8").replace("8000.0", "8001.0", 1), encoding="utf-8")
    original = load_scenario(SCENARIO)
    other = load_scenario(SCENARIO, [f'population.from_file="{edited}"'])
    assert run_identity(original)["firm_file"] != run_identity(other)["firm_file"]


def test_bad_file_is_one_message_with_every_error_and_nothing_runs(tmp_path, capsys):
    rows = list(csv.DictReader(EXAMPLE.open(encoding="utf-8")))
    rows[0]["revenue"] = "lots"
    rows[3]["srdi_since"] = "2015"
    rows[9]["mgmt_cert"] = "maybe"
    rows[9]["firm"] = rows[2]["firm"]
    bad = tmp_path / "bad.csv"
    with bad.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    out = tmp_path / "out"
    code = main(["cultivate", str(SCENARIO), "--set", f'population.from_file="{bad}"', "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and not out.exists()
    assert "4 error(s) in the firm file; nothing was run" in err
    assert "row 2, column revenue: 'lots'; allowed: 万元, a number above 0" in err
    assert "row 5, column srdi_since: '2015'; allowed: a year from 2021 to 2023" in err
    assert "row 11, column mgmt_cert: 'maybe'; allowed: yes/no" in err
    assert "row 11, column firm:" in err and "repeats row 4" in err


# ----------------------------------------------------------------------------- property-based

BAD = {  # values no column of the kind allows
    "positive_money": ["0", "-5", "abc", "1e9", "nan"],
    "money": ["-1", "x", "inf", "2e8"],
    "share": ["1.5", "-0.1", "3%"],
    "count": ["2.5", "-1", "many"],
    "year": ["1800", "2030", "20.5"],
    "yes/no": ["perhaps", "2"],
    "level": ["L9", "Provincial", "huge"],
    "number": ["-2", "2", "n/a"],
}
BASE = {
    "firm": None,
    "revenue": "5000",
    "rd": "150",
    "employees": "40",
    "main_share": "0.8",
    "founded": "2010",
    "mgmt_cert": "yes",
    "digital_level": "L2",
    "net_margin": "0.05",
    "srdi_since": "2022",
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    n=st.integers(1, 6),
    corrupt=st.lists(
        st.tuples(st.integers(0, 5), st.sampled_from([c for c in BASE if c != "firm"]), st.integers(0, 4)),
        max_size=6,
    ),
    blanks=st.lists(
        st.tuples(st.integers(0, 5), st.sampled_from(["rd", "main_share", "srdi_since"])), max_size=4
    ),
)
def test_validator_lists_exactly_the_bad_cells(tmp_path, rules, n, corrupt, blanks):
    rows = [{**BASE, "firm": f"f{k}-{string.ascii_letters[k]}"} for k in range(n)]
    expected = set()
    for row, column, pick in corrupt:
        if row < n:
            options = BAD[BY_NAME[column].kind]
            rows[row][column] = options[pick % len(options)]
            expected.add((row + 2, column))
    for row, column in blanks:
        if row < n and (row + 2, column) not in expected:
            rows[row][column] = ""
    path = tmp_path / "firms.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(BASE))
        writer.writeheader()
        writer.writerows(rows)
    if not expected:
        records = load_firm_file(path, 2023, rules)
        assert records.names == [r["firm"] for r in rows]
        assert np.array_equal(np.isnan(records.values["rd"]), [r["rd"] == "" for r in rows])
        return
    with pytest.raises(InputError) as info:
        load_firm_file(path, 2023, rules)
    lines = str(info.value).splitlines()
    assert lines[0].endswith(f"{len(expected)} error(s) in the firm file; nothing was run")
    found = {
        (int(line.split(",")[0].split()[-1]), line.split("column ")[1].split(":")[0]) for line in lines[1:]
    }
    assert found == expected


def test_unknown_and_missing_columns_are_named(tmp_path, rules):
    path = tmp_path / "firms.csv"
    path.write_text("firm,revnue\nA,100\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_firm_file(path, 2023, rules)
    assert "'revnue' unknown; allowed: firm, revenue" in str(info.value)
    assert "required column(s) revenue missing" in str(info.value)


def test_excel_file_reads_as_the_csv(tmp_path, rules):
    table = pd.read_csv(EXAMPLE, encoding="utf-8-sig")  # numbers as numbers, blanks as empty cells
    book = tmp_path / "our-firms.xlsx"
    table.to_excel(book, index=False)
    from_csv, from_excel = load_firm_file(EXAMPLE, 2023, rules), load_firm_file(book, 2023, rules)
    assert from_excel.names == from_csv.names
    assert from_excel.values.keys() == from_csv.values.keys()
    for name, values in from_csv.values.items():
        assert np.array_equal(values, from_excel.values[name], equal_nan=True), name
