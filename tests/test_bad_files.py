"""Property: every broken experiment or rule-set file ends with one line naming the file, exit 2.

Each generated file starts from a shipped one (``experiments/award-size-sweep.toml``,
``scenarios/rules/miit-2022.toml``) and is broken in one way that is certainly wrong, so that no
case would run a sweep; the batch engine's first step is replaced by a tripwire that fails the
test if one did.
"""

import contextlib
import copy
import io
import math
import re
import tempfile
import time
import tomllib
from pathlib import Path
from unittest import mock

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.app.cli import main
from sim.core.errors import InputError
from sim.core.schema import FolderName
from sim.io.experiment_file import KEY_PATH, MAX_RUNS, load_experiment
from sim.io.files import RULES_DIR, load_rules
from tests.conftest import BASELINE, ROOT

JIAXING = ROOT / "scenarios" / "jiaxing-2021.toml"
EXPERIMENT = tomllib.loads((ROOT / "experiments" / "award-size-sweep.toml").read_text(encoding="utf-8"))
EXPERIMENT["experiment"]["scenarios"] = [str(JIAXING)]
RULES = tomllib.loads((RULES_DIR / "miit-2022.toml").read_text(encoding="utf-8"))
FOLDER_NAME = re.compile(FolderName.__metadata__[0].metadata[0].pattern)
PROPERTY = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])

identifiers = st.from_regex(r"[a-z][a-z_]{2,12}", fullmatch=True)
not_utf8 = st.sampled_from([b"\xff", b"\xfe", b"\x80", b"\xc3\x28", b"\xed\xa0\x80"])
# Lines that are not TOML wherever they stand (between statements or inside a multi-line array).
NOT_TOML = ["= 3", "x = ", 'a = "b', "a = 1 2", "[x", "]]"]


def cli(*argv: str) -> tuple[int, list[str]]:
    """Exit code and stderr lines of ``ladder ARGV``; reaching the batch engine fails the test."""
    err = io.StringIO()
    # keyed, not run_batch: modules that import run_batch by name while the patch is on keep the mock
    tripwire = mock.patch("sim.batch.runner.keyed", side_effect=AssertionError("a valid file ran"))
    with tripwire, contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(list(argv))
    return code, err.getvalue().strip().splitlines()


def corruptions(header: str):
    """A non-UTF-8 byte, or a line that is not TOML (or declares ``header`` twice), at a position."""
    lines = st.sampled_from([*NOT_TOML, header])
    return st.tuples(st.just("bytes"), st.integers(0, 10**6), not_utf8) | st.tuples(
        st.just("line"), st.integers(0, 10**6), lines
    )


def corrupt(text: str, kind: str, at: int, junk) -> tuple[bytes, str]:
    """``text`` with ``junk`` put in at position ``at`` (wrapped); and the expected message."""
    if kind == "bytes":
        raw = text.encode("utf-8")
        cut = at % (len(raw) + 1)
        return raw[:cut] + junk + raw[cut:], "not UTF-8 text"
    lines = text.splitlines()
    lines.insert(at % (len(lines) + 1), junk)
    return "\n".join(lines).encode("utf-8"), "not valid TOML"


# ---------------------------------------------------------------------------- paths into data


def walk(node, path=()):
    """Every (key path, value) below ``node``: tables, arrays, their items and leaves."""
    yield path, node
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in children:
        yield from walk(child, (*path, key))


def get(data, path):
    for key in path:
        data = data[key]
    return data


def put(data, path, value) -> None:
    get(data, path[:-1])[path[-1]] = value


def dotted(path) -> str:
    return ".".join(str(key) for key in path)


# ---------------------------------------------------------------------------- rule-set files

RULE_PATHS = [(p, v) for p, v in walk(RULES) if p]
FREE_TABLES = ("levels", "categories", "tiers")  # tables whose keys are names, not schema keys
RULE_TABLES = [p for p, v in walk(RULES) if isinstance(v, dict) and (not p or p[-1] not in FREE_TABLES)]
RULE_NUMBERS = [p for p, v in RULE_PATHS if type(v) in (int, float)]
RULE_LISTS = [p for p, _ in RULE_PATHS if p[-1] in ("all", "any", "of", "items", "best_of")]
COMBINATIONS = [p[:-1] for p, _ in RULE_PATHS if p[-1] in ("all", "any", "of")]
ATTRS = [p for p, v in RULE_PATHS if p[-1] == "attr" or (p[-1] == "rank_by" and v != "score")]
OPS = [p for p, _ in RULE_PATHS if p[-1] == "op"]
LEVEL_VALUES = [p for p, v in RULE_PATHS if p[-1] == "value" and isinstance(v, str)]
HOLDS = [p[:-1] for p, _ in RULE_PATHS if p[-1] == "holds"]
SCORES = [p for p, _ in RULE_PATHS if p[-1] == "score" and len(p) == 3]
ITEMS = [p for p, _ in RULE_PATHS if len(p) == 5 and p[3] == "items"]
REQUIRED = [
    *[("meta", key) for key in ("id", "title", "verified", "in_force_from")],
    ("meta",),
    ("order",),
    ("tiers",),
    *[
        ("tiers", tier, key)
        for tier in RULES["tiers"]
        for key in ("name_en", "name_zh", "issued_by", "validity_years", "eligibility", "source")
    ],
    *[(*score, key) for score in SCORES for key in ("pass_mark", "categories", "items")],
    *[(*item, "id") for item in ITEMS],
]
REQUIRES = {req for rule in RULES["tiers"].values() for req in rule.get("requires", [])}
HELD_ONLY = sorted(
    {get(RULES, node)["holds"] for node in HOLDS} - REQUIRES
)  # tiers only held, never required
RULE_WRONG_TYPES = [
    (("tiers", "srdi", "validity_years"), "3"),
    (("tiers", "srdi", "validity_years"), 3.5),
    (("tiers", "srdi", "validity_years"), True),
    (("tiers", "srdi", "issued_by"), "county"),
    (("tiers", "high_tech", "side_label"), "yes"),
    (("tiers", "little_giant", "requires"), "srdi"),
    (("meta", "verified"), "yes"),
    (("order",), "high_tech"),
    (("tiers", "hidden_champion", "eligibility", "all", 3, "at_least"), "2"),
    (("tiers", "hidden_champion", "eligibility", "all", 3, "at_least"), 2.5),
    (("tiers", "innovative", "score", "pass_mark"), "60"),
    (("tiers", "innovative", "score", "items", 1, "bins"), "0.01"),
    (("tiers", "innovative", "score", "items", 1, "points"), [True, False, True, False, True]),
    (("tiers", "innovative", "score", "items", 3, "closed"), "middle"),
    (("tiers", "srdi", "score", "items", 2, "step"), "2"),
    (("tiers", "innovative", "eligibility", "all", 1, "any", 0, "score"), "yes"),
    (("tiers", "innovative", "eligibility", "all", 1, "any", 0, "score"), 1),
    (("tiers", "innovative", "eligibility", "all", 1, "any", 2, "holds"), 1),
    (("tiers", "srdi", "eligibility", "all", 1, "op"), 1),
    (("tiers", "srdi", "eligibility", "all", 1, "value"), [2]),
    (("tiers", "hidden_champion", "quota", "per_unit"), "2"),
]
RULE_RANGES = [
    (("tiers", "srdi", "validity_years"), st.integers(-(2**62), 0) | st.integers(21, 2**62)),
    (("tiers", "hidden_champion", "eligibility", "all", 3, "at_least"), st.integers(-(2**62), 0)),
    (("tiers", "hidden_champion", "quota", "per_unit"), st.integers(-(2**62), -1)),
    (("tiers", "srdi", "score", "items", 2, "step"), st.floats(-1e9, 0)),
    (("tiers", "srdi", "score", "items", 2, "cap"), st.floats(-1e9, -1e-6)),
    (("tiers", "srdi", "score", "categories", "innovation", "max"), st.floats(-1e9, 0)),
    (("tiers", "innovative", "score", "categories", "growth", "min"), st.floats(-1e9, -1e-6)),
    (("tiers", "innovative", "score", "pass_mark"), st.floats(-1e9, -1e-6)),
]


def rule_unknown_key(data, path, key):
    table = get(data, path)
    key = f"{key}_x" if key in table or key in ("extends", "economy", "package") else key
    table[key] = 1
    return f"{dotted((*path, key))}: unknown key"


def rule_wrong_type(data, path, value):
    put(data, path, value)
    return dotted(path[:2])


def rule_typed(data, path, value):
    put(data, path, value)
    return dotted(path)


def rule_non_finite(data, path, value):
    put(data, path, value)
    return dotted(path)


def rule_empty(data, path):
    put(data, path, [])
    return f"{dotted(path)}: List should have at least 1 item"


def rule_at_least(data, path, extra):
    node = get(data, path)
    children = node.pop("all", None) or node.pop("any", None) or node.pop("of")
    node.update(of=children, at_least=len(children) + extra)
    return f"at most {len(children)}"


def rule_attr(data, path, name):
    put(data, path, f"zz_{name}")
    return f"unknown firm attribute 'zz_{name}'"


def rule_op(data, path, op):
    put(data, path, op)
    return dotted(path)


def rule_level(data, path, name):
    put(data, path, f"zz_{name}")
    return f"unknown level 'zz_{name}'"


def rule_holds_unknown(data, path, name):
    get(data, path)["holds"] = f"zz_{name}"
    return f"holds: unknown tier 'zz_{name}'"


def rule_holds_undefined(data, tier):
    del data["tiers"][tier]
    data["order"].remove(tier)
    return f"holds {tier!r}, a tier this rule set does not define"


def rule_requires_unknown(data, tier, name):
    data["tiers"][tier].setdefault("requires", []).append(f"zz_{name}")
    return f"requires: unknown tier 'zz_{name}'"


def rule_requires_later(data, k):
    tier, later = data["order"][k], data["order"][-1]
    data["tiers"][tier]["requires"] = [later]
    return f"{tier} requires {later}, which must come earlier in order"


def rule_order(data, k, how):
    tier = data["order"][k % len(data["order"])]
    if how == "drop":
        data["order"].remove(tier)
    else:
        data["order"].insert(0, tier)
    return "order must list every tier exactly once"


def rule_tier_id(data, name):
    data["tiers"][f"zz_{name}"] = copy.deepcopy(data["tiers"]["srdi"])
    data["order"].append(f"zz_{name}")
    return f"unknown tier id(s) ['zz_{name}']"


INNOVATIVE_SCORE = ("tiers", "innovative", "score")
SRDI_ITEMS = ("tiers", "srdi", "score", "items")
SCORE_BREAKS = {
    "a category min above its max": (
        (*INNOVATIVE_SCORE, "categories", "growth", "min"),
        35,
        "exceeds max 30",
    ),
    "points on a levels item": ((*SRDI_ITEMS, 3, "points"), [1, 2], "points go with bins"),
    "step_points on a bins item": ((*SRDI_ITEMS, 0, "step_points"), 1, "step_points goes with step"),
    "best_of with an attr": ((*SRDI_ITEMS, 10, "attr"), "rd", "best_of takes no attr"),
    "score = false": (
        ("tiers", "innovative", "eligibility", "all", 1, "any", 0, "score"),
        False,
        "score = false",
    ),
    "a value on a holds test": (
        ("tiers", "innovative", "eligibility", "all", 1, "any", 2, "value"),
        False,
        "op and value go with attr",
    ),
}


def rule_score(data, name):
    path, value, fragment = SCORE_BREAKS[name]
    put(data, path, value)
    return fragment


def rule_pass_mark(data, excess):
    put(data, (*INNOVATIVE_SCORE, "pass_mark"), 100 + excess)  # its categories give at most 100
    return "nobody could pass"


def rule_category_out_of_reach(data, excess):
    cat = get(data, ("tiers", "srdi", "score", "categories", "specialisation"))  # items give 25
    cat.update(max=25 + excess, min=25 + excess)
    return "is more than its items can give (25)"


def rule_missing(data, path):
    del get(data, path[:-1])[path[-1]]
    return f"{dotted(path)}: required key is missing"


def rule_extends(data, name):
    data["extends"] = f"zz_{name}.toml"
    return "extends"


rule_fields = st.one_of(
    st.tuples(st.just(rule_unknown_key), st.sampled_from(RULE_TABLES), identifiers),
    st.tuples(
        st.just(rule_wrong_type),
        st.sampled_from([p for p, _ in RULE_PATHS]),
        st.sampled_from([{"zz": 1}, [[1]]]),
    ),
    st.sampled_from(RULE_WRONG_TYPES).map(lambda pv: (rule_typed, *pv)),
    st.one_of(*(st.tuples(st.just(rule_typed), st.just(p), s) for p, s in RULE_RANGES)),
    st.tuples(
        st.just(rule_non_finite),
        st.sampled_from(RULE_NUMBERS),
        st.sampled_from([math.nan, math.inf, -math.inf]),
    ),
    st.tuples(st.just(rule_empty), st.sampled_from(RULE_LISTS)),
    st.tuples(st.just(rule_at_least), st.sampled_from(COMBINATIONS), st.integers(1, 10**6)),
    st.tuples(st.just(rule_attr), st.sampled_from(ATTRS), identifiers),
    st.tuples(
        st.just(rule_op), st.sampled_from(OPS), st.sampled_from(["=>", "=<", "!=", "=", "<>", "gt", "≥", ""])
    ),
    st.tuples(st.just(rule_level), st.sampled_from(LEVEL_VALUES), identifiers),
    st.tuples(st.just(rule_holds_unknown), st.sampled_from(HOLDS), identifiers),
    st.tuples(st.just(rule_holds_undefined), st.sampled_from(HELD_ONLY)),
    st.tuples(st.just(rule_requires_unknown), st.sampled_from(sorted(RULES["tiers"])), identifiers),
    st.tuples(st.just(rule_requires_later), st.integers(0, len(RULES["order"]) - 2)),
    st.tuples(st.just(rule_order), st.integers(0, 100), st.sampled_from(["drop", "repeat"])),
    st.tuples(st.just(rule_tier_id), identifiers),
    st.tuples(st.just(rule_score), st.sampled_from(sorted(SCORE_BREAKS))),
    st.tuples(st.just(rule_pass_mark), st.floats(1e-6, 1e9)),
    st.tuples(st.just(rule_category_out_of_reach), st.floats(1e-6, 1e9)),
    st.tuples(st.just(rule_missing), st.sampled_from(REQUIRED)),
    st.tuples(st.just(rule_extends), identifiers),
)
rule_breakages = st.one_of(rule_fields, st.tuples(st.just(corrupt), corruptions("[meta]")))


def broken_rules(breakage) -> tuple[bytes, str]:
    """The bytes of a broken copy of miit-2022 and a fragment its error message must hold."""
    how, *args = breakage
    data = copy.deepcopy(RULES)
    if how is corrupt:
        return corrupt(tomli_w.dumps(data), *args[0])
    fragment = how(data, *args)
    return tomli_w.dumps(data).encode("utf-8"), fragment


@PROPERTY
@given(rule_breakages)
def test_every_broken_rule_set_is_refused_in_one_line(breakage):
    raw, fragment = broken_rules(breakage)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "broken-rules.toml"
        path.write_bytes(raw)
        with pytest.raises(InputError) as err:
            load_rules(str(path))
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"{path}: "), message
    assert fragment in message, message


CLI_RULE_BREAKS = [
    (rule_empty, ("tiers", "srdi", "eligibility", "all", 0, "any")),
    (rule_at_least, ("tiers", "hidden_champion", "eligibility", "all", 3), 97),
    (rule_op, ("tiers", "srdi", "eligibility", "all", 1, "op"), "=>"),
    (rule_score, "score = false"),
    (corrupt, ("bytes", 40, b"\xff")),
]


@pytest.mark.parametrize("breakage", CLI_RULE_BREAKS, ids=lambda b: b[0].__name__)
@pytest.mark.parametrize("command", ["run", "sweep"])
def test_a_scenario_on_a_broken_rule_set_is_refused_before_any_run(tmp_path, breakage, command):
    rules = tmp_path / "broken-rules.toml"
    raw, fragment = broken_rules(breakage)
    rules.write_bytes(raw)
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(
        f'extends = "{BASELINE}"\n[population]\nfirms = 300\n[run]\nyears = 1\nrules = "{rules}"\n',
        encoding="utf-8",
    )
    target = scenario
    if command == "sweep":
        target = tmp_path / "experiment.toml"
        target.write_text(
            f'[experiment]\nname = "x"\nscenarios = ["{scenario}"]\nreplications = 1\n', encoding="utf-8"
        )
    quiet = ["--quiet"] if command == "sweep" else []
    code, lines = cli(command, str(target), "--out", str(tmp_path / "out"), *quiet)
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith(f"error: {target}: ") and f"{rules}: " in lines[0] and fragment in lines[0]
    assert command == "run" or not (tmp_path / "out").exists(), "a sweep is refused before its folder"


# ---------------------------------------------------------------------------- experiment files

EXP_WRONG_TYPES = [
    ("experiment.name", 5),
    ("experiment.description", 5),
    ("experiment.scenarios", str(JIAXING)),
    ("experiment.scenarios", [1]),
    ("experiment.replications", "20"),
    ("experiment.replications", 2.5),
    ("experiment.replications", True),
    ("experiment.seed", "1"),
    ("experiment.seed", 1.5),
    ("experiment.years", "3"),
    ("experiment.years", 3.5),
    ("experiment.outcomes", "stock.srdi"),
    ("experiment.outcomes", [1]),
    ("design.method", "random"),
    ("design.method", 1),
    ("design.seed", "7"),
    ("design.parameters", {"path": "population.firms"}),
    ("design.parameters.0.path", 3),
    ("design.parameters.0.values", "0, 10"),
    ("design.parameters.0.values", [True, False]),
    ("design.parameters.0.values", ["10"]),
    ("design.parameters.0.values", [math.nan, 1.0]),
    ("design.parameters.1.values", [math.inf]),
    ("design.parameters.0.integer", "yes"),
    ("design", [1]),
    ("experiment", "x"),
]
EXP_TABLES = ["", "experiment", "design", "design.parameters.0", "design.parameters.1"]
EXP_LEAVES = [dotted(p) for p, v in walk(EXPERIMENT) if p and not isinstance(v, dict)]
EXP_STRUCTURE = {
    "scenarios and an economy": ({"experiment.economy": str(BASELINE)}, "give either scenarios"),
    "parameters without a method": ({"design.method": "none"}, "parameters need method"),
    "samples on a grid": ({"design.samples": 5}, "samples goes with method = 'lhs'"),
    "values and a range": ({"design.parameters.0.low": 0.0}, "not both"),
    "a grid of ranges": (
        {"design.parameters.0": {"path": "population.firms", "low": 1.0, "high": 2.0}},
        "a grid needs values",
    ),
    "an lhs without samples": (
        {
            "design.method": "lhs",
            "design.parameters": [{"path": "population.firms", "low": 1.0, "high": 2.0}],
        },
        "needs samples",
    ),
    "no parameters": ({"design.parameters": []}, "needs at least one parameter"),
    "years swept and fixed": (
        {"experiment.years": 3, "design.parameters.0": {"path": "run.years", "values": [2, 3]}},
        "run.years is swept",
    ),
}


def _key(dotted_path: str) -> tuple:
    return tuple(int(k) if k.isdigit() else k for k in dotted_path.split(".") if k)


def _lhs(data, samples: int) -> None:
    """Make the design a Latin hypercube over each parameter's grid span."""
    params = [
        {"path": p["path"], "low": float(min(p["values"])), "high": float(max(p["values"]))}
        for p in EXPERIMENT["design"]["parameters"]
    ]
    data["design"] = {"method": "lhs", "samples": samples, "parameters": params}


def _runs(points: int, reps: int) -> str:
    return f"{points * reps:,} runs"


def exp_unknown_key(data, tmp, where, key):
    table = get(data, _key(where))
    key = f"{key}_x" if key in table or key == "sources" else key
    table[key] = 1
    return f"{where}.{key}: unknown key" if where else f"{key}: unknown key"


def exp_set(data, tmp, where, value):
    put(data, _key(where), value)
    return where


def exp_count(data, tmp, where, value):
    if where == "design.samples":
        _lhs(data, 1)
    put(data, _key(where), value)
    return where


def exp_path(data, tmp, k, path):
    data["design"]["parameters"][k]["path"] = path
    return f"design.parameters.{k}.path"


def exp_unknown_path(data, tmp, k, key):
    data["design"]["parameters"][k]["path"] = f"population.zz_{key}"
    return "design.parameters (first point)"


def exp_low_high(data, tmp, k, low, gap, samples):
    _lhs(data, samples)
    data["design"]["parameters"][k].update(low=low, high=low - gap)
    return "low must be below high"


def exp_duplicate(data, tmp, k, values):
    params = data["design"]["parameters"]
    params.append({"path": params[k]["path"], "values": values})
    return f"parameters[{len(params) - 1}]: {params[k]['path']} is listed twice"


def exp_repeated_value(data, tmp, k, at):
    values = data["design"]["parameters"][k]["values"]
    values.insert(at % (len(values) + 1), values[at % len(values)])
    return "values must be distinct"


def exp_empty_grid(data, tmp, k):
    data["design"]["parameters"][k]["values"] = []
    return f"design.parameters.{k}.values"


def exp_huge_grid(data, tmp, count, extra):
    reps = data["experiment"]["replications"]
    lengths = [math.ceil((MAX_RUNS // reps + 1) ** (1 / count)) + extra] * count
    while math.prod(lengths) * reps <= MAX_RUNS:  # float roots may round down
        lengths[0] += 1
    params = [{"path": f"dynamics.p{k}", "values": list(range(n))} for k, n in enumerate(lengths)]
    data["design"] = {"method": "grid", "parameters": params}
    return _runs(math.prod(lengths), reps)


def exp_huge_replications(data, tmp, reps):
    data["experiment"]["replications"] = reps
    return _runs(16, reps)


def exp_huge_lhs(data, tmp, samples):
    _lhs(data, samples)
    return _runs(samples, data["experiment"]["replications"])


def exp_missing_file(data, tmp, form, name):
    name = f"zz_{name}.toml"
    if form == "scenarios":
        data["experiment"]["scenarios"] = [str(JIAXING), name]
        return "experiment.scenarios[1]"
    del data["experiment"]["scenarios"]
    economy = name if form == "economy" else str(BASELINE)
    data["experiment"].update(economy=economy, packages=[name])
    return f"experiment.{form}"


def exp_structure(data, tmp, name):
    changes, fragment = EXP_STRUCTURE[name]
    for where, value in changes.items():
        put(data, _key(where), value)
    return fragment


def exp_later_value(data, tmp, k, value):
    data["design"]["parameters"][k]["values"].append(value)
    return f"design.parameters[{k}] ({data['design']['parameters'][k]['path']} = "


def exp_outcome(data, tmp, name):
    data["experiment"]["outcomes"] = [f"zz_{name}"]
    return "experiment.outcomes"


def exp_rules(data, tmp, breakage):
    rules = tmp / "broken-rules.toml"
    rules.write_bytes(broken_rules(breakage)[0])
    scenario = tmp / "scenario.toml"
    scenario.write_text(f'extends = "{JIAXING}"\n[run]\nrules = "{rules}"\n', encoding="utf-8")
    data["experiment"]["scenarios"] = [str(scenario)]
    return f"experiment.scenarios[0]: {rules}: "


parameter = st.integers(0, len(EXPERIMENT["design"]["parameters"]) - 1)
big = 2**62
experiment_fields = st.one_of(
    st.tuples(st.just(exp_unknown_key), st.sampled_from(EXP_TABLES), identifiers),
    st.sampled_from(EXP_WRONG_TYPES).map(lambda wv: (exp_set, *wv)),
    st.tuples(st.just(exp_set), st.sampled_from(EXP_LEAVES), st.sampled_from([{"zz": 1}, [[1]]])),
    st.tuples(
        st.just(exp_count),
        st.just("experiment.replications"),
        st.integers(-big, 0) | st.integers(MAX_RUNS + 1, big),
    ),
    st.tuples(st.just(exp_count), st.just("experiment.years"), st.integers(-big, 0) | st.integers(101, big)),
    st.tuples(
        st.just(exp_count), st.just("design.samples"), st.integers(-big, -1) | st.integers(MAX_RUNS + 1, big)
    ),
    st.tuples(
        st.just(exp_set),
        st.just("experiment.name"),
        st.text(max_size=12).filter(lambda s: not FOLDER_NAME.fullmatch(s)),
    ),
    st.tuples(st.just(exp_path), parameter, st.text(max_size=20).filter(lambda s: not KEY_PATH.fullmatch(s))),
    st.tuples(st.just(exp_unknown_path), parameter, identifiers),
    st.tuples(st.just(exp_low_high), parameter, st.floats(-1e6, 1e6), st.floats(0, 1e6), st.integers(1, 50)),
    st.tuples(
        st.just(exp_duplicate), parameter, st.lists(st.integers(0, 1000), min_size=1, max_size=4, unique=True)
    ),
    st.tuples(st.just(exp_repeated_value), parameter, st.integers(0, 100)),
    st.tuples(st.just(exp_empty_grid), parameter),
    st.tuples(st.just(exp_huge_grid), st.integers(2, 13), st.integers(0, 5)),
    st.tuples(st.just(exp_huge_replications), st.integers(MAX_RUNS // 16 + 1, MAX_RUNS)),
    st.tuples(st.just(exp_huge_lhs), st.integers(MAX_RUNS // 20 + 1, MAX_RUNS)),
    st.tuples(st.just(exp_missing_file), st.sampled_from(["scenarios", "economy", "packages"]), identifiers),
    st.tuples(st.just(exp_structure), st.sampled_from(sorted(EXP_STRUCTURE))),
    st.tuples(st.just(exp_later_value), parameter, st.integers(-(10**9), -1) | st.floats(-1e9, -1e-6)),
    st.tuples(st.just(exp_outcome), identifiers),
    st.tuples(st.just(exp_rules), rule_fields),
)
experiment_breakages = st.one_of(experiment_fields, st.tuples(st.just(corrupt), corruptions("[experiment]")))


def write_broken_experiment(tmp: Path, breakage) -> tuple[Path, str]:
    """A broken copy of award-size-sweep in ``tmp`` and a fragment its error message must hold."""
    how, *args = breakage
    data = copy.deepcopy(EXPERIMENT)
    if how is corrupt:
        raw, fragment = corrupt(tomli_w.dumps(data), *args[0])
    else:
        fragment = how(data, tmp, *args)
        raw = tomli_w.dumps(data).encode("utf-8")
    path = tmp / "broken-experiment.toml"
    path.write_bytes(raw)
    return path, fragment


@PROPERTY
@given(experiment_breakages)
def test_every_broken_experiment_is_one_line_exit_2(breakage):
    with tempfile.TemporaryDirectory() as tmp:
        path, fragment = write_broken_experiment(Path(tmp), breakage)
        code, lines = cli("sweep", str(path), "--quiet", "--out", str(Path(tmp) / "out"))
        assert not (Path(tmp) / "out").exists()
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith(f"error: {path}: ") and fragment in lines[0], lines[0]


# ---------------------------------------------------------------------------- the cases named in the issue


def test_a_grid_of_trillions_of_points_is_refused_at_once(tmp_path):
    params = "".join(
        f'[[design.parameters]]\npath = "dynamics.p{k}"\nvalues = {list(range(10))}\n' for k in range(12)
    )
    path = tmp_path / "huge.toml"
    path.write_text(
        f'[experiment]\nname = "huge"\nscenarios = ["{JIAXING}"]\nreplications = 6\n[design]\nmethod = "grid"\n{params}',
        encoding="utf-8",
    )
    started = time.perf_counter()
    code, lines = cli("sweep", str(path), "--quiet", "--out", str(tmp_path / "out"))
    assert time.perf_counter() - started < 2.0
    assert code == 2 and lines == [
        f"error: {path}: design: 6,000,000,000,000 runs (1,000,000,000,000 design points × 1 scenario(s) or "
        f"package(s) × 6 replications); at most {MAX_RUNS:,} runs in one batch"
    ]


def test_the_largest_allowed_batch_is_accepted(tmp_path):
    path = tmp_path / "edge.toml"
    path.write_text(
        f'[experiment]\nname = "edge"\nscenarios = ["{JIAXING}"]\nreplications = {MAX_RUNS // 16}\n'
        '[design]\nmethod = "grid"\n[[design.parameters]]\npath = "levers.award.items[3].amount"\n'
        'values = [0, 10, 50, 100]\n[[design.parameters]]\npath = "levers.award.items[1].amount"\n'
        "values = [0, 150, 300, 600]\n",
        encoding="utf-8",
    )
    exp, arms = load_experiment(path)
    assert exp.design.points == 16 and len(arms) == 1


def test_compare_can_tell_a_file_with_a_design():
    sweep, _ = load_experiment(ROOT / "experiments" / "award-size-sweep.toml")
    compare, _ = load_experiment(ROOT / "experiments" / "compare-seed-cities.toml")
    assert sweep.sweeps and not compare.sweeps


@pytest.mark.parametrize(
    ("of", "at_least", "message"),
    [(4, 99, "at_least = 99: at most 4"), (4, 5, "at_least = 5: at most 4"), (0, 1, "at least 1 item")],
)
def test_at_least_cannot_ask_for_more_criteria_than_of_holds(tmp_path, of, at_least, message):
    data = copy.deepcopy(RULES)
    node = data["tiers"]["hidden_champion"]["eligibility"]["all"][3]
    node.update(at_least=at_least, of=node["of"][:of])
    path = tmp_path / "rules.toml"
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    with pytest.raises(InputError, match=f"{path}: tiers.hidden_champion.eligibility.all.3.*{message}"):
        load_rules(str(path))
