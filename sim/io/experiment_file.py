"""Experiment files (``experiments/*.toml``): which runs a batch consists of.

An experiment names scenarios, a number of replications, optionally the years, a design over
parameters (a grid, or a Latin hypercube over ranges, by dotted path — list items by index,
e.g. ``levers.award.items[0].amount``) and the outcomes to keep. :mod:`sim.batch.design`
expands it into run specs. Validated like scenario files: errors are one line naming the file
and key. Before any run, a batch larger than :data:`MAX_RUNS` is refused, and every scenario is
checked at each swept value (:func:`probe_points`) with its rule sets loaded.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from sim.core.errors import InputError
from sim.core.scenario import Scenario
from sim.core.schema import FolderName, Section
from sim.io.files import load_file, load_scenario, rule_sets_of

MAX_RUNS = 1_000_000
"""Most runs one batch may plan (design points × scenarios or packages × replications).

A run takes from a fraction of a second (a small economy) to many seconds and leaves a folder of
tables, so a million runs is already a day or more of a many-core machine and a million folders;
anything larger is a slip (a grid of many value lists multiplies out to trillions), and
expanding it into run specs would exhaust memory long before a run starts. The size is computed
from the file, not by expanding the design, so such a file is refused at once.
"""

# A dotted key path as ``--set`` takes it, list items by index: ``levers.award.items[0].amount``.
_KEY = r"[A-Za-z_][A-Za-z0-9_]*(\[[0-9]+\])?"
KEY_PATH = re.compile(rf"{_KEY}(\.{_KEY})*")
Point = tuple[tuple[str, float], ...]  # one design point: (key path, value) per parameter


class SweptParameter(Section):
    """One swept input: grid ``values``, or a ``low``–``high`` range for a Latin hypercube."""

    path: str
    values: list[int | float] | None = Field(default=None, min_length=1)  # whole numbers stay whole
    low: float | None = None
    high: float | None = None
    integer: bool = False

    @field_validator("path")
    @classmethod
    def _key_path(cls, path: str) -> str:
        if not KEY_PATH.fullmatch(path):
            raise ValueError("a dotted key path, list items by index, e.g. levers.award.items[0].amount")
        return path

    @model_validator(mode="after")
    def _grid_or_range(self) -> SweptParameter:
        if self.values is not None:
            if self.low is not None or self.high is not None:
                raise ValueError(f"parameter {self.path}: give values (grid) or low and high (lhs), not both")
            if len(set(self.values)) < len(self.values):
                raise ValueError(
                    f"parameter {self.path}: values must be distinct (a repeat runs a point twice)"
                )
        elif self.low is None or self.high is None:
            raise ValueError(f"parameter {self.path}: give values (grid) or low and high (lhs)")
        elif not self.low < self.high:
            raise ValueError(
                f"parameter {self.path}: low must be below high (a fixed value belongs in the scenario)"
            )
        return self

    def cast(self, value: float) -> float:
        """A point's value: whole for integer parameters and whole grid values, else a Python float."""
        if self.integer:
            return int(round(value))
        return value if isinstance(value, int) else float(value)

    def probe_values(self) -> list[float]:
        """The values a scenario is checked at before any run: every grid value, or both range ends."""
        return [self.cast(v) for v in (self.values if self.values is not None else (self.low, self.high))]


class Design(Section):
    """How parameter points are chosen."""

    method: Literal["none", "grid", "lhs"] = "none"
    samples: int = Field(default=0, ge=0, le=MAX_RUNS)
    seed: int = 0
    parameters: list[SweptParameter] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Design:
        if self.method == "none" and self.parameters:
            raise ValueError("parameters need method = 'grid' or 'lhs'")
        if self.method != "none" and not self.parameters:
            raise ValueError(f"method {self.method!r} needs at least one parameter")
        if self.method == "grid" and any(p.values is None for p in self.parameters):
            raise ValueError("a grid needs values for every parameter")
        if self.method == "lhs" and (self.samples < 1 or any(p.low is None for p in self.parameters)):
            raise ValueError("an lhs needs samples ≥ 1 and low/high for every parameter")
        if self.method != "lhs" and self.samples:
            raise ValueError(f"samples goes with method = 'lhs' (a {self.method!r} design would ignore it)")
        self._check_paths()
        return self

    def _check_paths(self) -> None:
        """A path listed twice would be set twice per point (the last wins), duplicating rows."""
        seen: set[str] = set()
        for k, param in enumerate(self.parameters):
            if param.path in seen:
                raise ValueError(f"parameters[{k}]: {param.path} is listed twice; list each path once")
            seen.add(param.path)

    @property
    def points(self) -> int:
        """How many points the design has, counted without expanding it."""
        if self.method == "grid":
            return math.prod(len(p.values or ()) for p in self.parameters)
        return self.samples if self.method == "lhs" else 1


class ExperimentMeta(Section):
    """The batch: what runs (paths relative to the experiment file), replications, seed.

    Either ``scenarios`` (scenario files), or an ``economy`` with the policy ``packages`` laid on
    it; ``versus`` names the package that ``compare`` measures against (default: the economy's
    no-policy counterfactual).
    """

    name: FolderName
    description: str = ""
    scenarios: list[str] = Field(default_factory=list)
    economy: str | None = None
    packages: list[str] = Field(default_factory=list)
    versus: str | None = None
    replications: int = Field(ge=1, le=1_000_000)
    seed: int = 0
    years: int | None = Field(default=None, ge=1, le=100)
    outcomes: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _scenarios_or_packages(self) -> ExperimentMeta:
        if bool(self.scenarios) == bool(self.economy):
            raise ValueError("give either scenarios, or an economy with its packages")
        if self.economy and not self.packages:
            raise ValueError("an economy needs at least one package")
        if self.packages and not self.economy:
            raise ValueError("packages need the economy they are laid on")
        return self


@dataclass(frozen=True)
class Arm:
    """One alternative of a batch: a scenario file, or a policy package laid on an economy file."""

    label: str
    scenario: Path
    package: Path | None = None
    overrides: tuple[str, ...] = ()


class Experiment(Section):
    """A validated experiment file."""

    experiment: ExperimentMeta
    design: Design = Field(default_factory=Design)

    @model_validator(mode="after")
    def _years_not_swept(self) -> Experiment:
        if self.experiment.years is not None and any(p.path == "run.years" for p in self.design.parameters):
            raise ValueError(
                "design.parameters: run.years is swept, but experiment.years fixes it for every point; drop one"
            )
        return self

    @property
    def sweeps(self) -> bool:
        """Whether the design varies parameters: such a file is for ``sweep``, not ``compare``."""
        return self.design.method != "none"


def check_runs(origin: str, points: int, arms: int, replications: int) -> None:
    """Refuse a batch of more than :data:`MAX_RUNS` runs, sized from its factors (nothing expanded)."""
    runs = points * arms * replications
    if runs > MAX_RUNS:
        raise InputError(
            f"{origin}: {runs:,} runs ({points:,} design points × {arms} scenario(s) or package(s) × "
            f"{replications:,} replications); at most {MAX_RUNS:,} runs in one batch"
        )


def load_experiment(path: str | Path) -> tuple[Experiment, list[Arm]]:
    """Validate an experiment file; return it and its arms.

    Before any run can start: the batch's size is checked, every file it names must exist, the
    scenario of each arm must validate at each value of each swept parameter, and its rule sets
    must load.
    """
    path = Path(path)
    exp = load_file(path, Experiment)
    meta = exp.experiment
    check_runs(f"{path}: design", exp.design.points, len(meta.packages or meta.scenarios), meta.replications)
    keyed = _arms(path, meta)
    probes = probe_points(exp.design)
    for key, arm in keyed:
        _check_arm(path, key, arm, probes, meta.years)
    return exp, unique_labels([arm for _, arm in keyed])


def _arms(path: Path, meta: ExperimentMeta) -> list[tuple[str, Arm]]:
    """Each arm with the key that names its file; every file must exist."""
    field = "scenarios" if meta.economy is None else "packages"
    economy = None if meta.economy is None else existing_file(path, "experiment.economy", meta.economy)
    out = []
    for k, name in enumerate(getattr(meta, field)):
        key = f"experiment.{field}[{k}]"
        file = existing_file(path, key, name)
        out.append((key, Arm(file.stem, file) if economy is None else Arm(file.stem, economy, file)))
    return out


def probe_points(design: Design) -> list[tuple[str, Point]]:
    """Points that between them give each parameter every grid value (or both ends of its range).

    Each is labelled with the key to blame. The first point sets every parameter to its first
    value; each further point moves one parameter, so a value outside its key's bounds is found
    at the one point that holds it. A grid gives no more of them than it has points, a range
    design one more than it has parameters.
    """
    params = design.parameters
    values = [p.probe_values() for p in params]
    base = tuple((p.path, v[0]) for p, v in zip(params, values, strict=True))
    out = [("design.parameters (first point)" if params else "experiment", base)]
    for k, (param, others) in enumerate(zip(params, values, strict=True)):
        for value in others[1:]:
            point = (*base[:k], (param.path, value), *base[k + 1 :])
            out.append((f"design.parameters[{k}] ({param.path} = {value!r})", point))
    return out


def _check_arm(path: Path, key: str, arm: Arm, probes: list[tuple[str, Point]], years: int | None) -> None:
    """The arm's scenario validates at every probe point, and the rule sets it names load."""
    first, *rest = probes
    scenario = _load_at(path, arm, first, years)
    try:
        rule_sets_of(scenario)  # swept values are numbers: every point names the same rule sets
    except InputError as exc:
        raise InputError(f"{path}: {key}: {exc}") from None
    for probe in rest:
        _load_at(path, arm, probe, years)


def _load_at(path: Path, arm: Arm, probe: tuple[str, Point], years: int | None) -> Scenario:
    """The arm's scenario at one probe point; a refusal names the experiment and the key to blame."""
    where, point = probe
    try:
        return load_scenario(arm.scenario, point_overrides(point, years), arm.package)
    except InputError as exc:
        raise InputError(f"{path}: {where}: {exc}") from None


def existing_file(origin: Path, key: str, name: str) -> Path:
    """The file ``name`` names, relative to the file ``origin`` that names it under ``key``."""
    target = (origin.parent / name).resolve()
    if not target.is_file():
        raise InputError(f"{origin}: {key}: {target} not found")
    return target


def unique_labels(arms: list[Arm]) -> list[Arm]:
    """The arms with labels made unique (a repeated stem gets -2, -3, …)."""
    seen: list[str] = []
    out = []
    for arm in arms:
        label, k = arm.label, 2
        while label in seen:
            label, k = f"{arm.label}-{k}", k + 1
        seen.append(label)
        out.append(replace(arm, label=label))
    return out


def point_overrides(point: Point, years: int | None) -> list[str]:
    """``--set`` overrides of one design point (and of the experiment's years)."""
    out = [f"{path}={value!r}" for path, value in point]
    if years is not None:
        out.append(f"run.years={years}")
    return out
