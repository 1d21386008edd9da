"""Every broken calibration file ends with one line naming it and exit code 2, before any run.

Property-based: each example starts from the shipped Yuyao calibration and breaks it in one way
that is broken whatever the drawn details (an unknown key, a wrong type, NaN or infinity,
crossed or non-positive log bounds, a start outside the bounds, a path that names no number of
the scenario, a duplicate path, an unknown moment, a zero observation, a bad name, a missing
scenario, bytes that are not UTF-8, text that is not TOML, ...). The fit itself is replaced by a
tripwire, so a file that slipped through validation fails the test instead of starting a fit.
"""

from __future__ import annotations

import contextlib
import copy
import io
import math
import tomllib
from collections.abc import Callable
from typing import Any

import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st

import sim.analysis.calibration as calibration
import sim.batch.runner as runner
from sim.app.cli import main
from sim.io.calibration_file import moment_names
from tests.conftest import ROOT

SHIPPED = ROOT / "experiments" / "calibrate-yuyao.toml"
SCENARIO = ROOT / "scenarios" / "economies" / "yuyao.toml"


def shipped() -> dict[str, Any]:
    """The shipped calibration, its scenario made absolute so the file may live anywhere."""
    data = tomllib.loads(SHIPPED.read_text(encoding="utf-8"))
    data["calibration"]["scenario"] = str(SCENARIO)
    return data


BASE = shipped()
N_PARAMS, N_TARGETS = len(BASE["parameters"]), len(BASE["targets"])
SHARE_PARAMS = [i for i, p in enumerate(BASE["parameters"]) if p["path"].startswith("certification.apply")]
FIRMS = next(i for i, p in enumerate(BASE["parameters"]) if p["path"] == "population.firms")

names = st.text("abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=12)
finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9)
positive = st.floats(min_value=1e-3, max_value=1e6)
non_finite = st.sampled_from([math.nan, math.inf, -math.inf])
not_a_number = st.one_of(st.text(max_size=8), st.booleans(), st.lists(st.integers(), max_size=2))
not_an_integer = st.one_of(not_a_number, finite.filter(lambda x: x != int(x)))
not_a_string = st.one_of(st.integers(), st.booleans(), finite, st.lists(st.text(max_size=3), max_size=2))

Draw = Callable[[st.SearchStrategy], Any]
Case = dict[str, Any] | bytes


def _param(d: dict, draw: Draw) -> dict:
    return d["parameters"][draw(st.integers(0, N_PARAMS - 1))]


def _target(d: dict, draw: Draw) -> dict:
    return d["targets"][draw(st.integers(0, N_TARGETS - 1))]


def _node(d: dict, place: str, draw: Draw) -> dict:
    """The table of the file a mutation changes: top level, [calibration], a parameter or a target."""
    if place in ("top", "calibration"):
        return d if place == "top" else d["calibration"]
    return _param(d, draw) if place == "parameter" else _target(d, draw)


def unknown_key(d: dict, draw: Draw) -> Case:
    node = _node(d, draw(st.sampled_from(["top", "calibration", "parameter", "target"])), draw)
    node["x_" + draw(names)] = draw(st.one_of(st.integers(), st.text(max_size=5), st.booleans()))
    return d


REQUIRED = (
    [("top", k) for k in ("calibration", "parameters", "targets")]
    + [("calibration", k) for k in ("name", "scenario", "replications")]
    + [("parameter", k) for k in ("path", "low", "high")]
    + [("target", k) for k in ("name", "moment", "observed", "source")]
)


def missing_key(d: dict, draw: Draw) -> Case:
    place, key = draw(st.sampled_from(REQUIRED))
    del _node(d, place, draw)[key]
    return d


WRONG_TYPES: list[tuple[str, str, st.SearchStrategy]] = [
    ("calibration", "replications", not_an_integer),
    ("calibration", "final_replications", not_an_integer),
    ("calibration", "max_evaluations", not_an_integer),
    ("calibration", "seed", not_an_integer),
    ("calibration", "name", not_a_string),
    ("calibration", "scenario", not_a_string),
    ("calibration", "description", not_a_string),
    (
        "calibration",
        "overrides",
        st.one_of(st.text(max_size=5), st.lists(st.integers(), min_size=1, max_size=2)),
    ),
    ("parameter", "path", not_a_string),
    ("parameter", "low", not_a_number),
    ("parameter", "high", not_a_number),
    ("parameter", "start", not_a_number),
    (
        "parameter",
        "scale",
        st.one_of(st.integers(), st.text(max_size=6).filter(lambda s: s not in ("linear", "log"))),
    ),
    ("parameter", "integer", st.one_of(st.integers(), st.text(max_size=4), finite)),
    ("target", "observed", not_a_number),
    ("target", "weight", not_a_number),
    (
        "target",
        "use",
        st.one_of(st.integers(), st.text(max_size=6).filter(lambda s: s not in ("fit", "check"))),
    ),
    ("target", "name", not_a_string),
    ("target", "moment", not_a_string),
    ("target", "source", not_a_string),
    (
        "top",
        "parameters",
        st.one_of(st.text(max_size=4), st.integers(), st.just({"path": "population.firms"})),
    ),
    ("top", "targets", st.one_of(st.text(max_size=4), st.integers(), st.lists(st.integers(), min_size=1))),
]


def wrong_type(d: dict, draw: Draw) -> Case:
    place, key, values = draw(st.sampled_from(WRONG_TYPES))
    _node(d, place, draw)[key] = draw(values)
    return d


def not_finite(d: dict, draw: Draw) -> Case:
    node, key = draw(
        st.sampled_from(
            [(_param(d, draw), k) for k in ("low", "high", "start")]
            + [(_target(d, draw), k) for k in ("observed", "weight")]
        )
    )
    node[key] = draw(non_finite)
    return d


def crossed_bounds(d: dict, draw: Draw) -> Case:
    p = _param(d, draw)
    p["high"] = p["low"] - draw(st.floats(0, 1e6))
    return d


def log_scale_without_positive_low(d: dict, draw: Draw) -> Case:
    p = _param(d, draw)
    p["scale"], p["low"] = "log", -draw(st.floats(0, 1e6))
    p["high"] = max(p["high"], p["low"] + 1)
    return d


def start_outside_bounds(d: dict, draw: Draw) -> Case:
    p = _param(d, draw)
    p["start"] = draw(st.sampled_from([p["high"] + draw(positive), p["low"] - draw(positive)]))
    return d


BAD_PATHS = [
    "",
    "population",
    "population.nope",
    "population..firms",
    "population.firms.x",
    "population.firms[0]",
    "population.digital_levels",
    "population.digital_levels[4]",
    "population.digital_levels[99]",
    "population.digital_levels[-1]",
    "certification.apply_probability",
    "certification.apply_probability.nope",
    "levers.award.items[0].amount",
    "levers.award.items[3].amount",
    "levers.rd_subsidy.rate",
    "levers.talent_grant",
    "targets[0].added",
    "run.rules",
    "run.rule_changes[0].from_year",
    "meta.name",
    "population.sources.firms",
    "population.firms=3",
    " population.firms",
    "population.firms ",
    "Population.firms",
]


def bad_path(d: dict, draw: Draw) -> Case:
    made_up = st.builds(
        lambda s, n: f"{s}.x_{n}", st.sampled_from(["population", "dynamics", "certification", "run"]), names
    )
    junk = st.text(min_size=1, max_size=12).filter(lambda s: any(c in s for c in " =/[]-+*!\"'\\\t"))
    _param(d, draw)["path"] = draw(st.one_of(st.sampled_from(BAD_PATHS), made_up, junk))
    return d


def duplicate_path(d: dict, draw: Draw) -> Case:
    i = draw(st.integers(0, N_PARAMS - 1))
    j = draw(st.integers(0, N_PARAMS - 1).filter(lambda j: j != i))
    d["parameters"][j] = copy.deepcopy(d["parameters"][i])
    return d


def bound_outside_the_scenario_schema(d: dict, draw: Draw) -> Case:
    """A share above 1, or a firm count below 1: the scenario refuses the bound."""
    if draw(st.booleans()):
        d["parameters"][draw(st.sampled_from(SHARE_PARAMS))]["high"] = 1.0 + draw(positive)
    else:
        d["parameters"][FIRMS].update(scale="linear", low=-draw(st.floats(0, 1e6)))
    return d


def whole_number_fitted_as_real(d: dict, draw: Draw) -> Case:
    d["parameters"][FIRMS]["integer"] = False
    return d


def unknown_moment(d: dict, draw: Draw) -> Case:
    moment = draw(st.one_of(st.builds("stock.x_{}".format, names), st.text(max_size=10)))
    _target(d, draw)["moment"] = moment if moment not in moment_names() else moment + "?"
    return d


def zero_or_nan_observed(d: dict, draw: Draw) -> Case:
    _target(d, draw)["observed"] = draw(st.sampled_from([0, 0.0, -0.0, math.nan]))
    return d


def out_of_range_number(d: dict, draw: Draw) -> Case:
    key, value = draw(
        st.sampled_from(
            [
                ("replications", st.integers(-10, 0)),
                ("replications", st.integers(1001, 10**6)),
                ("final_replications", st.integers(-10, -1)),
                ("max_evaluations", st.integers(-10, 0)),
                ("weight", st.floats(-1e6, -1e-6)),
            ]
        )
    )
    (_target(d, draw) if key == "weight" else d["calibration"])[key] = draw(value)
    return d


def empty_or_unfitted(d: dict, draw: Draw) -> Case:
    choice = draw(st.sampled_from(["parameters", "targets", "no fit target"]))
    if choice == "no fit target":
        for t in d["targets"]:
            t["use"] = "check"
    else:
        d[choice] = []
    return d


def bad_name(d: dict, draw: Draw) -> Case:
    listed = st.sampled_from(["../x", "..", ".", ".hidden", "a/b", "/abs", "", " x", "x y", "a\\b", "名字"])
    with_slash = st.builds(lambda a, b: f"{a}/{b}", names, names)
    d["calibration"]["name"] = draw(st.one_of(listed, with_slash))
    return d


def missing_scenario(d: dict, draw: Draw) -> Case:
    d["calibration"]["scenario"] = draw(st.builds("no-such-{}.toml".format, names))
    return d


def bad_override(d: dict, draw: Draw) -> Case:
    listed = ["population.firms", "population.firms=-5", "population.nope=1", "run.years=0", "=3"]
    d["calibration"]["overrides"] = [draw(st.sampled_from(listed))]
    return d


def not_utf8(d: dict, draw: Draw) -> Case:
    text = tomli_w.dumps(d).encode("utf-8")
    at = draw(st.integers(0, len(text)))
    return (
        text[:at]
        + draw(st.sampled_from([b"\xff", b"\xfe\xfe", b"\xc3\x28", b"\x80", b"\xed\xa0\x80"]))
        + text[at:]
    )


def not_toml(d: dict, draw: Draw) -> Case:
    lines = tomli_w.dumps(d).splitlines()
    at = draw(st.integers(0, len(lines)))
    broken = draw(
        st.sampled_from(
            ["x = ", "= 3", "[calibration", "[[targets", 'a = "open', "a = 1\na = 2", "[calibration]", "key"]
        )
    )
    return "\n".join([*lines[:at], broken, *lines[at:]]).encode("utf-8")


MUTATIONS = [
    unknown_key,
    missing_key,
    wrong_type,
    not_finite,
    crossed_bounds,
    log_scale_without_positive_low,
    start_outside_bounds,
    bad_path,
    duplicate_path,
    bound_outside_the_scenario_schema,
    whole_number_fitted_as_real,
    unknown_moment,
    zero_or_nan_observed,
    out_of_range_number,
    empty_or_unfitted,
    bad_name,
    missing_scenario,
    bad_override,
    not_utf8,
    not_toml,
]


def tripwire(*args: object, **kwargs: object) -> None:
    raise AssertionError("a broken calibration file started a fit")


def test_every_broken_calibration_file_ends_with_one_line_before_any_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a file that slipped through must not write into the repository
    monkeypatch.setattr(calibration, "calibrate", tripwire)
    # keyed() is what every batch calls first; patching run_batch itself would leak into any
    # module first imported meanwhile (``from sim.batch.runner import run_batch`` binds the patch)
    monkeypatch.setattr(runner, "keyed", tripwire)
    path = tmp_path / "broken.toml"
    seen: list[str] = []

    @settings(max_examples=1000, deadline=None, database=None)
    @given(mutation=st.sampled_from(MUTATIONS), data=st.data())
    def broken_file_is_refused(mutation, data) -> None:
        case = mutation(copy.deepcopy(BASE), data.draw)
        path.write_bytes(case if isinstance(case, bytes) else tomli_w.dumps(case).encode("utf-8"))
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["calibrate", str(path), "--quiet"])
        lines = err.getvalue().splitlines()
        assert code == 2, (mutation.__name__, err.getvalue())
        assert len(lines) == 1 and lines[0].startswith(f"error: {path}"), (mutation.__name__, lines)
        assert out.getvalue() == ""
        seen.append(mutation.__name__)

    broken_file_is_refused()
    assert len(seen) >= 1000
    assert set(seen) == {m.__name__ for m in MUTATIONS}


def test_the_unbroken_file_passes_validation(tmp_path, monkeypatch):
    """The property above means something only if the file it breaks is valid to begin with."""
    monkeypatch.chdir(tmp_path)
    started: list[object] = []

    def stop(*args: object, **kwargs: object) -> None:
        started.append(args)
        raise KeyboardInterrupt

    monkeypatch.setattr(calibration, "calibrate", stop)
    path = tmp_path / "fine.toml"
    path.write_text(tomli_w.dumps(BASE), encoding="utf-8")
    assert main(["calibrate", str(path), "--quiet"]) == 130 and started
