"""Scenario files: TOML → validated, frozen parameters.

A scenario is everything a run needs besides its seed: the population to synthesise, the
behaviour of firms, the rule set that certifies them, and (later) the policy levers. Files are
strict: an unknown key, a wrong type or a value out of range is a :class:`ScenarioError` whose
one-line message names the file, the key path and what is allowed.

Every section may carry a ``sources`` table mapping its keys to a citation (document and
article, or seed file and line); the loader checks that each cited key exists.

A scenario may ``extends = "other.toml"``: the parent is loaded first and the child overrides
only what it sets. Parents are never mutated; cycles and missing parents are errors.
"""

from __future__ import annotations

import copy
import hashlib
import json
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, model_validator

from sim.lever_config import Levers, Target
from sim.scenario_base import (  # noqa: F401  (re-exported: the public names of a scenario)
    TIER_IDS,
    Count,
    Money,
    NonNegative,
    PositiveMoney,
    Rate,
    ScenarioError,
    Section,
    Share,
    uncertain,
)


class Meta(Section):
    """What the scenario is and where it comes from."""

    name: str
    description: str = ""


class RuleChange(Section):
    """A switch of rule set from a given year (e.g. MIIT 2026 from 2026-04-01)."""

    from_year: int
    rules: str


class Run(Section):
    """Calendar and rule set of a run."""

    start_year: int = Field(ge=1990, le=2100)
    years: int = Field(ge=1, le=100)
    rules: str = "miit-2022"
    rule_changes: list[RuleChange] = Field(default_factory=list)


class SizeTilted(Section):
    """A binary firm trait whose probability rises with size (logistic in log revenue)."""

    share_at_median: Share
    size_slope: float = Field(default=0.0, ge=-5.0, le=5.0)


class Population(Section):
    """Initial population: counts and attribute distributions (see docs/ODD.md §7)."""

    firms: int = Field(ge=1, le=50_000_000)
    above_scale_revenue: PositiveMoney
    revenue_median: PositiveMoney
    revenue_sigma: float = Field(gt=0.0, le=5.0)
    tail_share: Share
    tail_alpha: float = Field(gt=0.5, le=5.0)
    age_mean: float = Field(ge=1.0, le=100.0)
    revenue_per_employee: PositiveMoney
    revenue_per_employee_sigma: float = Field(default=0.5, ge=0.0, le=3.0)
    rd_performer_share: Share
    rd_performer_share_above_scale: Share
    rd_intensity_median: Share
    rd_intensity_sigma: float = Field(gt=0.0, le=3.0)
    main_share_a: float = Field(gt=0.0)
    main_share_b: float = Field(gt=0.0)
    niche_market_median: PositiveMoney
    niche_market_sigma: float = Field(gt=0.0, le=5.0)
    global_market_multiple: float = Field(ge=1.0)
    debt_ratio_mean: Share
    debt_ratio_sd: Share
    net_margin_mean: float = Field(ge=-1.0, le=1.0)
    net_margin_sd: Share
    equity_3y_share: Share
    rd_institution_scale: PositiveMoney
    rd_institution_levels: list[Share] = Field(min_length=4, max_length=4)
    digital_levels: list[Share] = Field(min_length=4, max_length=4)
    chain_positions: list[Share] = Field(min_length=3, max_length=3)
    quality_items_mean: NonNegative
    distinctiveness_a: float = Field(gt=0.0)
    distinctiveness_b: float = Field(gt=0.0)
    high_tech_revenue_a: float = Field(gt=0.0)
    high_tech_revenue_b: float = Field(gt=0.0)
    new_product_a: float = Field(gt=0.0)
    new_product_b: float = Field(gt=0.0)
    strategic_emerging: SizeTilted
    mgmt_cert: SizeTilted
    own_brand: SizeTilted
    listed: SizeTilted
    standard_drafted: SizeTilted

    @model_validator(mode="after")
    def _shares_sum_to_one(self) -> Population:
        for key in ("rd_institution_levels", "digital_levels", "chain_positions"):
            total = sum(getattr(self, key))
            if abs(total - 1.0) > 1e-6:
                raise ValueError(f"{key} must sum to 1 (got {total:g})")
        return self


class Dynamics(Section):
    """Yearly behaviour of firms (each parameter is an equation term in docs/ODD.md §7)."""

    growth_drift: float = Field(ge=-1.0, le=1.0)
    growth_scale: float = Field(gt=0.0, le=2.0)
    growth_size_exponent: float = Field(ge=0.0, le=1.0)
    growth_rd_effect: float = uncertain(
        0.0, 0.3, "return on R&D capital; private returns 0.1–0.3 (Hall, Mairesse & Mohnen 2010)"
    )
    growth_ip_effect: float = Field(ge=0.0, le=1.0)
    niche_market_growth: Rate
    rd_adjustment: Share
    rd_intensity_trend: float = Field(default=0.0, ge=-0.2, le=0.3)
    rd_price_elasticity: float = uncertain(
        0.0,
        2.0,
        "R&D user-cost elasticity 0.1–1 short to long run (Bloom, Griffith & Van Reenen 2002)",
    )
    rd_noise: float = Field(ge=0.0, le=2.0)
    rd_liquidity_share: Share
    tax_rate: Share
    super_deduction: float = Field(ge=0.0, le=3.0)
    bunching_probability: float = uncertain(
        0.0, 1.0, "bunching at R&D notches (Chen, Liu, Suárez Serrato & Xu 2021, AER 111:2065)"
    )
    bunching_window: Share
    rd_depreciation: float = Field(gt=0.0, le=1.0)
    patent_scale: NonNegative
    patent_elasticity: float = uncertain(
        0.0, 1.2, "patents–R&D elasticity 0.3–1 (Hausman, Hall & Griliches 1984)"
    )
    class1_share: Share
    class1_lapse: Share
    class2_lapse: Share
    debt_persistence: Share
    debt_sd: Share
    margin_persistence: Share
    margin_sd: Share
    equity_raise_rate: Share
    equity_ip_tilt: NonNegative
    equity_amount_median: PositiveMoney
    equity_amount_sigma: float = Field(gt=0.0, le=5.0)
    specialisation_rate: Share
    main_share_sd: Share
    niche_switch_rate: Share
    rd_staff_per_intensity: NonNegative
    rd_staff_adjustment: Share
    institution_upgrade_scale: PositiveMoney
    digital_upgrade_rate: Share
    trait_acquisition_rate: Share
    st_award_rate: Share
    exit_hazard: Share
    exit_age_exponent: float = Field(ge=0.0, le=3.0)
    exit_size_exponent: float = Field(ge=0.0, le=3.0)
    entry_rate: Share
    entrant_revenue_median: PositiveMoney
    entrant_revenue_sigma: float = Field(gt=0.0, le=5.0)

    @model_validator(mode="after")
    def _rd_price_positive(self) -> Dynamics:
        if self.tax_rate * self.super_deduction >= 1.0:
            raise ValueError("tax_rate × super_deduction must be below 1 (else R&D is free)")
        return self


class Certification(Section):
    """How firms meet the ladder: who applies, who starts certified, quota units."""

    apply_probability: dict[str, Share]
    review_submission: dict[str, Share] = Field(default_factory=dict)
    initial: dict[str, Count] = Field(default_factory=dict)
    quota_units: dict[str, Count] = Field(default_factory=dict)
    warmup_years: int = Field(default=0, ge=0, le=50)

    @model_validator(mode="after")
    def _tier_keys(self) -> Certification:
        for key in ("apply_probability", "review_submission", "initial"):
            unknown = set(getattr(self, key)) - set(TIER_IDS)
            if unknown:
                allowed = ", ".join(TIER_IDS)
                raise ValueError(f"{key} has unknown tier id(s) {sorted(unknown)}; allowed: {allowed}")
        return self


class Scenario(Section):
    """A complete, validated scenario."""

    meta: Meta
    run: Run
    population: Population
    dynamics: Dynamics
    certification: Certification
    levers: Levers = Field(default_factory=Levers)
    targets: list[Target] = Field(default_factory=list)


# ---------------------------------------------------------------------------- loading


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of ``base`` with ``over`` laid on top (tables merge, values replace)."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ScenarioError(f"{path}: file not found")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{path}: not UTF-8 text") from None


def load_raw(path: str | Path, _chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read a scenario file and its ``extends`` parents into one merged dict."""
    path = Path(path)
    resolved = path.resolve()
    if resolved in _chain:
        cycle = " -> ".join(str(p.name) for p in (*_chain, resolved))
        raise ScenarioError(f"{path}: extends: cycle {cycle}")
    data = _read_toml(path)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ScenarioError(f"{path}: extends: must be a file name string")
    parent_path = path.parent / parent
    if not parent_path.is_file():
        raise ScenarioError(f"{path}: extends: parent {parent!r} not found")
    return _deep_merge(load_raw(parent_path, (*_chain, resolved)), data)


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted path → leaf value; arrays of tables are numbered (``items[0].amount``)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, f"{path}."))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for i, item in enumerate(value):
                out.update(_flatten(item, f"{path}[{i}]."))
        else:
            out[path] = value
    return out


def provenance(path: str | Path) -> dict[str, str]:
    """Dotted path → the file in the ``extends`` chain that set it (the last one wins)."""
    chain: list[Path] = []
    current: Path | None = Path(path)
    while current is not None:
        chain.append(current)
        parent = _read_toml(current).get("extends")
        current = current.parent / parent if isinstance(parent, str) else None
    origin: dict[str, str] = {}
    for file in reversed(chain):
        data = _read_toml(file)
        data.pop("extends", None)
        origin.update(dict.fromkeys(_flatten(data), str(file)))
    return origin


def describe(path: str | Path, overrides: list[str] | None = None) -> list[str]:
    """Lines of the resolved scenario: ``key = value  # file; citation``."""
    scenario = load(path, overrides)
    origin = provenance(path)
    for item in overrides or []:
        origin[".".join(parse_override(item)[0])] = "--set"
    resolved = _flatten(_without_sources(scenario.model_dump(mode="json", exclude_none=True)))
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
    """The citation of ``key``: its section's ``sources`` entry, or that of an enclosing key."""
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
    return ""


def parse_override(item: str) -> tuple[list[str], Any]:
    """Parse one ``--set key.path=value``; the value is read as TOML, else kept as a string."""
    if "=" not in item:
        raise ScenarioError(f"--set {item}: expected key.path=value")
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
                raise ScenarioError(f"{origin}: --set {item}: {where} is inside a value, not a table")
            if not index:
                if last:
                    node[name] = value
                else:
                    node = node.setdefault(name, {})  # validation rejects paths the schema lacks
                continue
            seq = node.get(name)
            pos = int(index.rstrip("]")) if index.rstrip("]").isdigit() else -1
            if not isinstance(seq, list) or not 0 <= pos < len(seq):
                raise ScenarioError(f"{origin}: --set {item}: {where}: no such array item")
            if last:
                seq[pos] = value
            else:
                node = seq[pos]
    return out


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


def validate(raw: dict[str, Any], origin: str) -> Scenario:
    """Validate a merged scenario dict; errors become a one-line :class:`ScenarioError`."""
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        raise ScenarioError(format_error(origin, exc)) from None


def load(path: str | Path, overrides: list[str] | None = None) -> Scenario:
    """Load, merge, override and validate a scenario file."""
    raw = apply_overrides(load_raw(path), overrides or [], str(path))
    return validate(raw, str(path))


def scenario_hash(scenario: Scenario) -> str:
    """Sha256 of the resolved parameters: equal hashes mean equal runs for equal seeds."""
    text = json.dumps(scenario.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_hash(path: str | Path) -> str:
    """Sha256 of a file's bytes, recorded in run manifests."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
