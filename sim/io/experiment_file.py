"""Experiment files (``experiments/*.toml``): which runs a batch consists of.

An experiment names scenarios, a number of replications, optionally the years, a design over
parameters (a grid, or a Latin hypercube over ranges, by dotted path — list items by index,
e.g. ``levers.award.items[0].amount``) and the outcomes to keep. :mod:`sim.batch.design`
expands it into run specs. Validated like scenario files: errors are one line naming the file
and key.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from sim.core.errors import InputError
from sim.core.schema import FolderName, Section
from sim.io.files import load_file, load_scenario


class SweptParameter(Section):
    """One swept input: grid ``values``, or a ``low``–``high`` range for a Latin hypercube."""

    path: str
    values: list[int | float] | None = None  # a grid keeps whole numbers whole (firm counts)
    low: float | None = None
    high: float | None = None
    integer: bool = False

    @model_validator(mode="after")
    def _grid_or_range(self) -> SweptParameter:
        if self.values is None and (self.low is None or self.high is None):
            raise ValueError(f"parameter {self.path}: give values (grid) or low and high (lhs)")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"parameter {self.path}: low must not exceed high")
        return self


class Design(Section):
    """How parameter points are chosen."""

    method: Literal["none", "grid", "lhs"] = "none"
    samples: int = Field(default=0, ge=0, le=1_000_000)
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
        return self


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


def load_experiment(path: str | Path) -> tuple[Experiment, list[Arm]]:
    """Validate an experiment file; return it and its arms (every file checked to load)."""
    path = Path(path)
    exp = load_file(path, Experiment)
    meta = exp.experiment
    if meta.economy is not None:
        economy = _existing(path, "experiment.economy", meta.economy)
        packages = [_existing(path, f"experiment.packages[{k}]", p) for k, p in enumerate(meta.packages)]
        arms = [Arm(p.stem, economy, p) for p in packages]
    else:
        scenarios = [_existing(path, f"experiment.scenarios[{k}]", s) for k, s in enumerate(meta.scenarios)]
        arms = [Arm(s.stem, s) for s in scenarios]
    probe = [(p.path, p.values[0] if p.values else p.low) for p in exp.design.parameters]
    for arm in arms:
        try:
            load_scenario(arm.scenario, point_overrides(tuple(probe), meta.years), arm.package)
        except InputError as exc:
            where = "design.parameters (first point)" if probe else "experiment"
            raise InputError(f"{path}: {where}: {exc}") from None
    return exp, unique_labels(arms)


def _existing(experiment: Path, key: str, name: str) -> Path:
    target = (experiment.parent / name).resolve()
    if not target.is_file():
        raise InputError(f"{experiment}: {key}: {target} not found")
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


def point_overrides(point: tuple[tuple[str, float], ...], years: int | None) -> list[str]:
    """``--set`` overrides of one design point (and of the experiment's years)."""
    out = [f"{path}={value!r}" for path, value in point]
    if years is not None:
        out.append(f"run.years={years}")
    return out
