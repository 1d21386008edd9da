"""Target files (``experiments/target-*.toml``): what a cheapest-package search looks for.

A target file names the economy, the policy package whose levers may change, the goals (tier,
year, a stock or a number of new certificates, and the probability with which each must be
met), the levers that may change with their bounds, the budget constraints (a year, per paying
level) and the search's size. Validated like every other file: an error is one line naming the
file, the key and what is allowed. Before any run the levers are checked at both ends of their
ranges on the package, so a search never stops half-way on a bound the package refuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, model_validator

from sim.core.errors import InputError
from sim.core.scenario import PolicyTarget, Scenario
from sim.core.schema import FolderName, Money, Section, Share
from sim.core.vocab import TIER_IDS, PayingLevel
from sim.io.experiment_file import SweptParameter, check_runs, existing_file
from sim.io.files import load_file, load_scenario, rule_sets_of


class Goal(PolicyTarget):
    """A policy target the package must meet, and with what probability (share of replications)."""

    probability: Share = 0.8


class Budget(Section):
    """Spend the package may not exceed: mean 万元 in any one year, in all and per paying level."""

    per_year: Money | None = None
    per_level: dict[PayingLevel, Money] = Field(default_factory=dict)


class SearchSize(Section):
    """How many packages are tried, on how many replications, from which seeds."""

    trials: int = Field(ge=1, le=10_000)
    replications: int = Field(ge=2, le=10_000)
    seed: int = Field(default=0, ge=0)
    startup_trials: int = Field(default=10, ge=1, le=10_000)
    confirm_replications: int = Field(default=20, ge=0, le=10_000)


class TargetMeta(Section):
    """The economy, the package whose levers change (paths relative to the target file), the years."""

    name: FolderName
    description: str = ""
    economy: str
    package: str
    years: int | None = Field(default=None, ge=1, le=100)


class TargetFile(Section):
    """A validated target file."""

    target: TargetMeta
    search: SearchSize
    goals: list[Goal] = Field(min_length=1)
    levers: list[SweptParameter] = Field(min_length=1)
    budget: Budget = Field(default_factory=Budget)

    @model_validator(mode="after")
    def _distinct_levers(self) -> TargetFile:
        paths = [p.path for p in self.levers]
        for k, path in enumerate(paths):
            if path in paths[:k]:
                raise ValueError(f"levers[{k}]: {path} is listed twice; list each lever once")
            if not path.startswith("levers."):
                raise ValueError(f"levers[{k}]: {path}: a lever of the package (a path under levers.)")
        return self


@dataclass(frozen=True)
class TargetSpec:
    """A loaded target file with its resolved paths and the years the search simulates."""

    path: Path
    file: TargetFile
    economy: Path
    package: Path
    years: int
    start_year: int


def load_target(path: str | Path) -> TargetSpec:
    """Validate a target file; every refusal before any run, as one line naming file and key."""
    path = Path(path)
    spec = load_file(path, TargetFile)
    check_runs(f"{path}: search", spec.search.trials, 2, spec.search.replications)  # package + no-policy
    meta = spec.target
    economy = existing_file(path, "target.economy", meta.economy)
    package = existing_file(path, "target.package", meta.package)
    base = load_scenario(economy, [], package)
    start = base.run.start_year
    for k, goal in enumerate(spec.goals):
        if goal.tier not in TIER_IDS:
            raise InputError(
                f"{path}: goals[{k}].tier: {goal.tier!r} is not a model tier; one of {', '.join(TIER_IDS)}"
            )
        if goal.by_year < start:
            raise InputError(
                f"{path}: goals[{k}].by_year: {goal.by_year} is before the economy's first year {start}"
            )
    last = max(goal.by_year for goal in spec.goals)
    years = meta.years if meta.years is not None else last - start + 1
    if start + years - 1 < last:
        raise InputError(
            f"{path}: target.years: {years} years from {start} end before the last goal year {last}"
        )
    try:
        rule_sets_of(base)
    except InputError as exc:
        raise InputError(f"{path}: target.package: {exc}") from None
    _probe_levers(path, spec, economy, package)
    return TargetSpec(path, spec, economy, package, years, start)


def lever_overrides(values: dict[str, float]) -> list[str]:
    """``--set`` overrides that put the levers at one point of the search."""
    return [f"{path}={value!r}" for path, value in values.items()]


def _probe_levers(path: Path, spec: TargetFile, economy: Path, package: Path) -> None:
    """The package validates with each lever at each end of its range (others at their first value)."""
    first = {p.path: p.probe_values()[0] for p in spec.levers}
    load_at(path, economy, package, first, "levers (first values)")
    for k, lever in enumerate(spec.levers):
        for value in lever.probe_values()[1:]:
            load_at(
                path,
                economy,
                package,
                {**first, lever.path: value},
                f"levers[{k}] ({lever.path} = {value!r})",
            )


def load_at(path: Path, economy: Path, package: Path, values: dict[str, float], where: str) -> Scenario:
    """The package on the economy at given lever values; a refusal names the target file and key."""
    try:
        return load_scenario(economy, lever_overrides(values), package)
    except InputError as exc:
        raise InputError(f"{path}: {where}: {exc}") from None


def write_package(spec: TargetSpec, values: dict[str, float], path: Path, note: str) -> Path:
    """The package at the found lever values, whole (no ``extends``), to lay on any economy."""
    import tomli_w

    from sim.io.files import apply_overrides, load_package_raw

    raw = apply_overrides(load_package_raw(spec.package), lever_overrides(values), str(spec.package))
    raw.pop("extends", None)
    meta = raw.setdefault("meta", {})
    meta["name"] = path.stem
    meta["description"] = note
    header = (
        f"# Written by `ladder target {spec.path.name}`: {spec.package.name} with the levers at the values\n"
        f"# the search found ({', '.join(f'{k} = {v!r}' for k, v in values.items())}). Do not edit by hand.\n"
    )
    path.write_text(header + tomli_w.dumps(raw), encoding="utf-8")
    return path
