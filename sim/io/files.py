"""The one file loader: scenario, rule-set, experiment and calibration files.

Every input file is strict TOML read through :func:`read_toml` and validated against its schema
by :func:`validate_as`, with one error policy: a file that cannot be read or does not validate
raises :class:`~sim.core.errors.InputError` with one line naming the file, the key path and what
is allowed (the command line prints it and exits with code 2).

Scenario and rule-set files may ``extends = "other.toml"`` (a path relative to the file): the
parent is loaded first and the child overrides only what it sets (tables merge, values and
arrays replace), the way an OpenFisca reform is an overlay on a copy. Parents are never mutated;
cycles and missing parents are errors.
"""

from __future__ import annotations

import copy
import hashlib
import json
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from sim import __version__
from sim.core.errors import InputError
from sim.core.rules import RuleSet
from sim.core.scenario import Scenario
from sim.core.schema import Section
from sim.io.firm_file import firms_of

RULES_DIR = Path(__file__).resolve().parent.parent.parent / "scenarios" / "rules"
M = TypeVar("M", bound=BaseModel)


# ---------------------------------------------------------------------------- reading


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file as a dict; a missing, non-UTF-8 or malformed file is one line of error."""
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None


def format_error(origin: str, exc: ValidationError) -> str:
    """The one-line message for the first validation error: file, key path, what is allowed."""
    err = exc.errors()[0]
    loc = ".".join(str(part) for part in err["loc"]) or "(top level)"
    if err["type"] == "extra_forbidden":
        return f"{origin}: {loc}: unknown key"
    if err["type"] == "missing":
        return f"{origin}: {loc}: required key is missing"
    msg = err["msg"].removeprefix("Value error, ")
    got = err.get("input")
    shown = "" if isinstance(got, dict | list) or got is None else f" (got {got!r})"
    return f"{origin}: {loc}: {msg}{shown}"


def validate_as(schema: type[M], data: dict[str, Any], origin: str) -> M:
    """Validate ``data`` against ``schema``; errors become a one-line :class:`InputError`."""
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        raise InputError(format_error(origin, exc)) from None


def load_file(path: str | Path, schema: type[M]) -> M:
    """Read and validate a file that has no ``extends`` (experiment and calibration files)."""
    path = Path(path)
    return validate_as(schema, read_toml(path), str(path))


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of ``base`` with ``over`` laid on top (tables merge, values replace)."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


PACKAGE_KEYS = ("meta", "levers", "targets")


def layers(path: str | Path, _chain: tuple[Path, ...] = ()) -> list[tuple[Path, dict[str, Any]]]:
    """The files a scenario is made of, in merge order, each with what it sets itself.

    A file's ``extends`` parent comes first, then its ``economy`` (an economy file: no levers or
    targets), then its ``package`` (a policy package: only meta, levers and targets), then the
    file itself.
    """
    path = Path(path)
    resolved = path.resolve()
    if resolved in _chain:
        cycle = " -> ".join(str(p.name) for p in (*_chain, resolved))
        raise InputError(f"{path}: extends: cycle {cycle}")
    data = _rule_files_resolved(path, read_toml(path))
    out: list[tuple[Path, dict[str, Any]]] = []
    for key in ("extends", "economy", "package"):
        ref = data.pop(key, None)
        if ref is None:
            continue
        if not isinstance(ref, str):
            raise InputError(f"{path}: {key}: must be a file name string")
        ref_path = path.parent / ref
        if not ref_path.is_file():
            raise InputError(f"{path}: {key}: file {ref!r} not found")
        part = layers(ref_path, (*_chain, resolved))
        if key == "economy":
            check_economy(ref_path, _merge(part))
        elif key == "package":
            check_package(ref_path, _merge(part))
        out += part
    out.append((path, data))
    return out


def _rule_files_resolved(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    """A rule set named by file (``run.rules = "my-rules.toml"``) is relative to the file naming it.

    Resolved here, as ``extends`` is, so the same scenario means the same rules from any working
    directory; names without ``.toml`` are rule sets under ``scenarios/rules``. A firm file
    (``population.from_file``) is resolved the same way.
    """
    run = data.get("run")
    if not isinstance(run, dict):
        run = {}

    def resolved(ref: Any) -> Any:
        if isinstance(ref, str) and ref.endswith(".toml") and not Path(ref).is_absolute():
            return str((path.parent / ref).resolve())
        return ref

    if "rules" in run:
        run["rules"] = resolved(run["rules"])
    population = data.get("population")
    if isinstance(population, dict) and isinstance(population.get("from_file"), str):
        name = population["from_file"]  # a firm file, too, is relative to the file naming it
        population["from_file"] = name if Path(name).is_absolute() else str((path.parent / name).resolve())
    for change in run.get("rule_changes", []) if isinstance(run.get("rule_changes"), list) else []:
        if isinstance(change, dict) and "rules" in change:
            change["rules"] = resolved(change["rules"])
    return data


def _merge(parts: list[tuple[Path, dict[str, Any]]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for _, data in parts:
        merged = deep_merge(merged, data)
    return merged


def check_economy(path: Path, data: dict[str, Any]) -> None:
    """An economy is a place and its behaviour: it holds no levers and no targets."""
    for key in ("levers", "targets"):
        if key in data:
            raise InputError(f"{path}: {key}: an economy holds no levers or targets; put them in a package")


def check_package(path: Path, data: dict[str, Any]) -> None:
    """A policy package applies to any economy: it holds only meta, levers and targets."""
    for key in data:
        if key not in PACKAGE_KEYS:
            raise InputError(
                f"{path}: {key}: a policy package holds only {', '.join(PACKAGE_KEYS)} "
                "(economy settings belong in an economy file)"
            )


def load_raw(path: str | Path) -> dict[str, Any]:
    """Read a file and every file it is laid on (``extends``, ``economy``, ``package``) into one dict."""
    return _merge(layers(path))


def load_package_raw(path: str | Path) -> dict[str, Any]:
    """Read a policy package (and the packages it extends), checked to be a package."""
    data = load_raw(path)
    check_package(Path(path), data)
    return data


def switch_off(raw: dict[str, Any], origin: str) -> dict[str, Any]:
    """Drop every lever set to ``false`` (how an overlay or ``--set`` switches a lever off)."""
    levers = raw.get("levers")
    if not isinstance(levers, dict):
        return raw
    for lever_id, value in list(levers.items()):
        if value is False:
            del levers[lever_id]
        elif value is True:
            raise InputError(
                f"{origin}: levers.{lever_id}: true is not a lever; give its section (false switches it off)"
            )
    return raw


def file_hash(path: str | Path) -> str:
    """Sha256 of a file's bytes, recorded in manifests."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ---------------------------------------------------------------------------- rule sets


def rules_path(name: str, rules_dir: Path = RULES_DIR) -> Path:
    """The file of rule set ``name`` (a stem under ``scenarios/rules`` or a path to a file)."""
    return Path(name) if name.endswith(".toml") else rules_dir / f"{name}.toml"


@lru_cache(maxsize=32)
def load_rules(name: str, rules_dir: Path = RULES_DIR) -> RuleSet:
    """Load rule set ``name``, laying it over the rule set it ``extends``."""
    path = rules_path(name, rules_dir)
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in rules_dir.glob("*.toml")))
        raise InputError(f"{path}: rule set not found; available: {known}")
    return validate_as(RuleSet, load_raw(path), str(path))


def rule_sets_of(scenario: Scenario) -> dict[str, RuleSet]:
    """Every rule set a scenario uses (its own and those of its rule changes), loaded."""
    run = scenario.run
    return {name: load_rules(name) for name in sorted({run.rules, *(c.rules for c in run.rule_changes)})}


def rules_hash(rule_set: RuleSet) -> str:
    """Sha256 of a rule set's resolved contents (after ``extends``): what its file now says."""
    return hashlib.sha256(rule_set.model_dump_json().encode("utf-8")).hexdigest()


def run_identity(scenario: Scenario) -> dict[str, Any]:
    """Everything but the seed that determines a run's data.

    The resolved scenario, the contents of every rule set it uses and the package version: a
    run key built from it changes when any of them does, so a resumed batch never reuses a run
    made under an edited rule file or an older model.
    """
    identity = {
        "scenario": scenario_hash(scenario),
        "rules": {name: rules_hash(rs) for name, rs in rule_sets_of(scenario).items()},
        "version": __version__,
    }
    if scenario.population.from_file is not None:  # the firms are data too: an edited file is a new run
        path = Path(scenario.population.from_file)
        identity["firm_file"] = file_hash(path) if path.is_file() else "missing"
    return identity


# ---------------------------------------------------------------------------- scenarios


def parse_override(item: str) -> tuple[list[str], Any]:
    """Parse one ``--set key.path=value``; the value is read as TOML, else kept as a string."""
    if "=" not in item:
        raise InputError(f"--set {item}: expected key.path=value")
    key, text = item.split("=", 1)
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        value = text
    return key.strip().split("."), value


def apply_overrides(raw: dict[str, Any], overrides: list[str], origin: str) -> dict[str, Any]:
    """Return a copy of ``raw`` with ``--set`` overrides applied (tables are created as needed).

    A path part ``name[i]`` addresses item ``i`` of an array of tables, e.g.
    ``levers.award.items[0].amount``.
    """
    out = copy.deepcopy(raw)
    for item in overrides:
        keys, value = parse_override(item)
        node: Any = out
        for depth, key in enumerate(keys):
            name, _, index = key.partition("[")
            where = ".".join(keys[: depth + 1])
            last = depth == len(keys) - 1
            if not isinstance(node, dict):
                raise InputError(f"{origin}: --set {item}: {where} is inside a value, not a table")
            if not index:
                if last:
                    node[name] = value
                else:
                    node = node.setdefault(name, {})  # validation rejects paths the schema lacks
                continue
            seq = node.get(name)
            pos = int(index.rstrip("]")) if index.rstrip("]").isdigit() else -1
            if not isinstance(seq, list) or not 0 <= pos < len(seq):
                raise InputError(f"{origin}: --set {item}: {where}: no such array item")
            if last:
                seq[pos] = value
            else:
                node = seq[pos]
    return out


def load_scenario(
    path: str | Path, overrides: list[str] | None = None, package: str | Path | None = None
) -> Scenario:
    """Load, merge, override and validate a scenario file.

    With ``package``, ``path`` is an economy and the policy package is laid on it (the package's
    meta names the result).
    """
    raw = load_raw(path)
    origin = str(path)
    if package is None and raw and set(raw) <= set(PACKAGE_KEYS):
        raise InputError(
            f"{path}: a policy package, not a scenario: lay it on an economy "
            "(ladder compare --economy ECONOMY.toml PACKAGE.toml, or economy = / package = in a scenario file)"
        )
    if package is not None:
        check_economy(Path(path), raw)
        raw = deep_merge(raw, load_package_raw(package))
        origin = f"{package} on {path}"
    raw = switch_off(apply_overrides(raw, overrides or [], origin), origin)
    return validate_as(Scenario, raw, origin)


ECONOMY_EXCLUDES = ("meta", "levers", "targets")


def economy_of(scenario: Scenario) -> dict[str, Any]:
    """What makes a scenario's economy: every resolved value but meta, levers, targets and citations."""
    data = scenario.model_dump(mode="json")
    return _without_sources({k: v for k, v in data.items() if k not in ECONOMY_EXCLUDES})


ECONOMY_SECTIONS = ("run", "population", "dynamics", "certification")


def economy_differences(a: Scenario, b: Scenario) -> list[str]:
    """Dotted keys whose values differ between the economies of two scenarios, calendar first."""
    fa, fb = flatten(economy_of(a)), flatten(economy_of(b))
    keys = [k for k in fa.keys() | fb.keys() if fa.get(k) != fb.get(k)]
    rank = {s: i for i, s in enumerate(ECONOMY_SECTIONS)}
    return sorted(keys, key=lambda k: (rank.get(k.split(".")[0], len(rank)), k))


def scenario_hash(scenario: Scenario) -> str:
    """Sha256 of the resolved parameters: equal hashes mean equal runs for equal seeds."""
    text = json.dumps(scenario.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------- provenance


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted path → leaf value; arrays of tables are numbered (``items[0].amount``)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{path}."))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for i, item in enumerate(value):
                out.update(flatten(item, f"{path}[{i}]."))
        else:
            out[path] = value
    return out


def provenance(path: str | Path) -> dict[str, str]:
    """Dotted path → the file among the scenario's layers that set it (the last one wins)."""
    origin: dict[str, str] = {}
    for file, data in layers(path):
        origin.update(dict.fromkeys(flatten(data), str(file)))
    return origin


def describe(path: str | Path, overrides: list[str] | None = None) -> list[str]:
    """Lines of the resolved scenario: ``key = value  # file; citation``.

    A value no file sets is ``default``; a behavioural default declared ``uncertain`` shows the
    citation of its range, so nothing a scenario inherits silently goes unexplained.
    """
    scenario = load_scenario(path, overrides)
    origin = provenance(path)
    for item in overrides or []:
        origin[".".join(parse_override(item)[0])] = "--set"
    resolved = flatten(_without_sources(scenario.model_dump(mode="json", exclude_none=True)))
    lines = []
    for key, value in resolved.items():
        cite = _find_source(scenario, key)
        where = origin.get(key, "default")
        note = f"{where}; {cite}" if cite else where
        lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}  # {note}")
    return lines


def _without_sources(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _without_sources(v) for k, v in data.items() if k != "sources"}
    if isinstance(data, list):
        return [_without_sources(v) for v in data]
    return data


def _find_source(scenario: Scenario, key: str) -> str:
    """The citation of ``key``.

    Its section's ``sources`` entry, that of an enclosing key, or the range citation of an
    ``uncertain`` parameter.
    """
    parts = key.split(".")
    for cut in range(len(parts) - 1, -1, -1):
        node: Any = scenario
        for part in parts[:cut]:
            name, _, index = part.partition("[")
            node = getattr(node, name, None)
            if index and isinstance(node, list):
                node = node[int(index.rstrip("]"))]
        leaf = parts[cut].partition("[")[0]
        if isinstance(node, Section) and leaf in node.sources:
            return node.sources[leaf]
        if cut == len(parts) - 1 and isinstance(node, Section):
            info = type(node).model_fields.get(leaf)
            extra = info.json_schema_extra if info else None
            if isinstance(extra, dict) and extra.get("uncertain"):
                lo, hi = extra["range"]
                return f"range [{lo:g}, {hi:g}]: {extra['range_source']}"
    return ""


def open_model(
    path: str | Path, overrides: list[str] | None = None, rng: int | None = None, agents: bool = True
):
    """Load a scenario file and build its model (with the rule sets it names)."""
    from sim.core.model import LadderModel

    scenario = load_scenario(path, overrides)
    rule_sets = rule_sets_of(scenario)
    firms = firms_of(scenario, rule_sets[scenario.run.rules])
    return LadderModel(scenario, rule_sets, rng=rng, agents=agents, firms=firms)
