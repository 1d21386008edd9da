"""Property: every broken scenario file ends with one line naming file and key, exit 2."""

import contextlib
import io
import tempfile
import tomllib
from pathlib import Path

import pytest
from annotated_types import Ge, Gt, Le
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.app.cli import main
from sim.core.errors import InputError
from sim.core.scenario import Dynamics, Population
from tests.conftest import BASELINE

RAW = tomllib.loads(BASELINE.read_text(encoding="utf-8"))


def _bounded(model, kind):
    """Scalar numeric fields of ``model`` with a lower bound ≥ 0 (kind 'low') or upper ≤ 1."""
    out = []
    for name, info in model.model_fields.items():
        if info.annotation not in (int, float):
            continue
        for m in info.metadata:
            if (
                kind == "low"
                and isinstance(m, Ge | Gt)
                and float(getattr(m, "ge", getattr(m, "gt", -1))) >= 0
            ):
                out.append(name)
            if kind == "high" and isinstance(m, Le) and float(m.le) <= 1.0:
                out.append(name)
    return sorted(set(out))


SECTIONS = {"population": Population, "dynamics": Dynamics}
NON_NEGATIVE = [(s, f) for s, m in SECTIONS.items() for f in _bounded(m, "low")]
SHARES = [(s, f) for s, m in SECTIONS.items() for f in _bounded(m, "high")]
SCALARS = [(s, f) for s in SECTIONS for f, v in RAW[s].items() if isinstance(v, int | float)]


def toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    return repr(value)


def dump(data):
    lines = [f"{k} = {toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for section, table in data.items():
        if isinstance(table, dict):
            lines.append(f"[{section}]")
            lines += [f"{k} = {toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


identifiers = st.from_regex(r"[a-z][a-z_]{2,12}", fullmatch=True)

breakages = st.one_of(
    st.tuples(st.just("unknown"), st.sampled_from(sorted(RAW)), identifiers),
    st.tuples(
        st.just("negative"), st.sampled_from(NON_NEGATIVE), st.floats(-1e9, -1e-6) | st.integers(-(10**9), -1)
    ),
    st.tuples(st.just("share"), st.sampled_from(SHARES), st.floats(1.0001, 1e6)),
    st.tuples(
        st.just("type"), st.sampled_from(SCALARS), st.sampled_from(["abc", "", "1,5", [1, 2], {"a": 1}])
    ),
    st.tuples(
        st.just("cap"), st.sampled_from(["city", "county", "provincial", "national"]), st.floats(-1e9, -1e-6)
    ),
    st.tuples(
        st.just("apply"),
        st.sampled_from(["srdi", "innovative", "little_giant"]),
        st.floats(1.0001, 100) | st.floats(-100, -1e-6),
    ),
)


def break_scenario(kind, where, value):
    data = {k: dict(v) if isinstance(v, dict) else v for k, v in RAW.items()}
    if kind == "unknown":
        section, key = where, value
        if key in data[section]:
            key += "_x"
        data[section][key] = 1
        return data, f"{section}.{key}"
    if kind in ("negative", "share", "type"):
        section, key = where
        data[section][key] = value
        return data, f"{section}.{key}"
    if kind == "cap":
        data["levers"] = {
            "rd_subsidy": {
                "level": "city",
                "rate": 0.1,
                "cap_per_firm": 10,
                "budget": {"caps": {where: value}},
            }
        }
        return data, f"levers.rd_subsidy.budget.caps.{where}"
    data["certification"]["apply_probability"] = {**RAW["certification"]["apply_probability"], where: value}
    return data, f"certification.apply_probability.{where}"


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(breakages)
def test_every_broken_scenario_is_one_line_exit_2(breakage):
    data, key = break_scenario(*breakage)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "broken.toml"
        path.write_text(dump(data), encoding="utf-8")
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(["show", str(path)])
    lines = err.getvalue().strip().splitlines()
    assert code == 2
    assert len(lines) == 1 and "Traceback" not in lines[0]
    assert lines[0].startswith(f"error: {path}: {key}")


def test_extends_cycle_exits_2(tmp_path):
    (tmp_path / "a.toml").write_text('extends = "b.toml"\n')
    (tmp_path / "b.toml").write_text('extends = "a.toml"\n')
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(["run", str(tmp_path / "a.toml")]) == 2
    assert "extends: cycle" in err.getvalue() and len(err.getvalue().strip().splitlines()) == 1


def _one_line_exit_2(*argv):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(list(argv))
    lines = err.getvalue().strip().splitlines()
    return code, lines


@pytest.mark.parametrize(
    ("setting", "fragment"),
    [
        ('population.firms="6000"', "population.firms"),
        ("population.firms=true", "population.firms"),
        ("certification.warmup_years=true", "certification.warmup_years"),
        ("dynamics.entrant_revenue_median=inf", "dynamics.entrant_revenue_median"),
        ("dynamics.growth_drift=nan", "dynamics.growth_drift"),
        ('levers.award={items=[{tier="srdi", level="city", amount=inf}]}', "levers.award.items.0.amount"),
        ('levers.award={items=[{tier="srdi", level="city", amount="10"}]}', "levers.award.items.0.amount"),
        (
            'levers.award={on_renewal="yes", items=[{tier="srdi", level="city", amount=1}]}',
            "levers.award.on_renewal",
        ),
    ],
)
def test_wrong_types_and_non_finite_numbers_are_refused(setting, fragment):
    code, lines = _one_line_exit_2("run", str(BASELINE), "--years", "1", "--set", setting)
    assert code == 2 and len(lines) == 1 and fragment in lines[0], lines


@pytest.mark.parametrize(
    "option", [["--reps", "0"], ["--workers", "-1"], ["--seed", "-3"], ["--scheduler", "tcp://x:1"]]
)
def test_bad_batch_options_are_refused(option):
    code, lines = _one_line_exit_2("compare", str(BASELINE), *option, "--quiet")
    assert code == 2 and len(lines) == 1 and option[0] in lines[0], lines


def test_a_results_name_must_be_one_path_component(tmp_path):
    exp = tmp_path / "e.toml"
    exp.write_text(
        f'[experiment]\nname = "../../x"\nscenarios = ["{BASELINE}"]\nreplications = 1\n', encoding="utf-8"
    )
    code, lines = _one_line_exit_2("sweep", str(exp), "--quiet")
    assert code == 2 and len(lines) == 1 and "experiment.name" in lines[0], lines


def test_a_nan_threshold_in_a_rule_file_is_refused(tmp_path):
    from sim.io.files import RULES_DIR, load_rules

    bad = tmp_path / "nan-rules.toml"
    bad.write_text(
        f'extends = "{RULES_DIR / "miit-2022.toml"}"\n[tiers.srdi.eligibility]\nall = [{{ attr = "rd", op = ">=", value = nan }}]\n',
        encoding="utf-8",
    )
    with pytest.raises(InputError, match="nan-rules.toml: tiers.srdi.eligibility"):
        load_rules(str(bad))


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--set", "population.revenue_per_employee=0.001"], "population.revenue_per_employee"),
        (["--set", "population.revenue_median=1e13"], "population.revenue_median"),
        (["--set", "population.quality_items_mean=1e10"], "population.quality_items_mean"),
        (
            ["--set", "population.firms=200", "--set", "dynamics.growth_drift=0.6", "--years", "60"],
            "left its range",
        ),
        (["--set", "population.firms=50000000"], "needs about"),
        (["--set", "certification.quota_units.townships=3"], "certification.quota_units.townships"),
    ],
)
def test_values_that_would_overflow_or_exhaust_memory_are_refused(tmp_path, argv, fragment):
    code, lines = _one_line_exit_2("run", str(BASELINE), *argv, "--out", str(tmp_path / "out"))
    assert code == 2 and len(lines) == 1 and fragment in lines[0], lines
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_a_non_finite_model_output_is_refused_not_written():
    import pandas as pd

    from sim.io.results import check_finite

    check_finite(pd.DataFrame({"little_giant_rd_intensity_mean": [float("nan")]}), "series")  # no holders
    with pytest.raises(InputError, match="column revenue holds NaN or inf"):
        check_finite(pd.DataFrame({"revenue": [1.0, float("nan")]}), "firms.parquet")
    with pytest.raises(InputError, match="holds inf"):
        check_finite(pd.DataFrame({"mean": [float("inf")]}), "summary.csv", missing_ok=True)


def test_compare_refuses_an_experiment_with_a_design(tmp_path):
    exp = tmp_path / "e.toml"
    exp.write_text(
        f'[experiment]\nname = "x"\nscenarios = ["{BASELINE}"]\nreplications = 1\n'
        '[design]\nmethod = "grid"\n[[design.parameters]]\npath = "population.firms"\nvalues = [300, 400]\n',
        encoding="utf-8",
    )
    code, lines = _one_line_exit_2("compare", str(exp), "--quiet", "--out", str(tmp_path / "out"))
    assert code == 2 and len(lines) == 1 and "ladder sweep" in lines[0], lines


def test_an_unreachable_scheduler_is_one_line(tmp_path):
    pytest.importorskip("dask.distributed")
    argv = ["compare", str(BASELINE), "--reps", "1", "--backend", "dask", "--scheduler", "tcp://127.0.0.1:9"]
    code, lines = _one_line_exit_2(*argv, "--quiet", "--out", str(tmp_path / "out"))
    assert code == 2 and len(lines) == 1 and "no Dask scheduler answers" in lines[0], lines


def test_two_rule_changes_in_one_year_are_refused(tmp_path):
    changes = '[{from_year=2026, rules="miit-2026"}, {from_year=2026, rules="miit-2022"}]'
    code, lines = _one_line_exit_2("show", str(BASELINE), "--set", f"run.rule_changes={changes}")
    assert code == 2 and len(lines) == 1 and "run: two rule changes from 2026" in lines[0], lines
