"""Experiment files (``experiments/*.toml``): which runs a batch consists of.

An experiment names scenarios, a number of replications, optionally the years, a design over
parameters (a grid, or a Latin hypercube over ranges, by dotted path — list items by index,
e.g. ``levers.award.items[0].amount``) and the outcomes to keep. It expands into
:class:`~sim.runner.RunSpec` s: every design point × scenario × replication, replication ``i``
always with the same seed (common random numbers). Validated like scenario files: errors are
one line naming the file and key.
"""

from __future__ import annotations

import itertools
import tomllib
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, ValidationError, model_validator
from scipy.stats import qmc

from sim.runner import RunSpec, replication_seed
from sim.scenario import ScenarioError, Section, format_error, load


class Parameter(Section):
    """One swept input: grid ``values``, or a ``low``–``high`` range for a Latin hypercube."""

    path: str
    values: list[float] | None = None
    low: float | None = None
    high: float | None = None
    integer: bool = False

    @model_validator(mode="after")
    def _grid_or_range(self) -> Parameter:
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
    parameters: list[Parameter] = Field(default_factory=list)

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
    """The batch: scenarios (relative to the experiment file), replications, seed."""

    name: str
    description: str = ""
    scenarios: list[str] = Field(min_length=1)
    replications: int = Field(ge=1, le=1_000_000)
    seed: int = 0
    years: int | None = Field(default=None, ge=1, le=100)
    outcomes: list[str] = Field(default_factory=list)


class Experiment(Section):
    """A validated experiment file."""

    experiment: ExperimentMeta
    design: Design = Field(default_factory=Design)


def load_experiment(path: str | Path) -> tuple[Experiment, list[Path]]:
    """Validate an experiment file; return it and its scenario paths (checked to load)."""
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(f"{path}: file not found")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        exp = Experiment.model_validate(data)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from None
    except ValidationError as exc:
        raise ScenarioError(format_error(str(path), exc)) from None
    scenarios = [(path.parent / s).resolve() for s in exp.experiment.scenarios]
    for k, scenario in enumerate(scenarios):
        if not scenario.is_file():
            raise ScenarioError(f"{path}: experiment.scenarios[{k}]: {scenario} not found")
    for k, point in enumerate(design_points(exp.design)[:1]):
        try:
            load(scenarios[0], _overrides(point, exp.experiment.years))
        except ScenarioError as exc:
            raise ScenarioError(f"{path}: design.parameters (point {k}): {exc}") from None
    return exp, scenarios


def design_points(design: Design) -> list[tuple[tuple[str, float], ...]]:
    """Parameter points of the design (one empty point when nothing is swept)."""
    params = design.parameters
    if design.method == "none":
        return [()]
    if design.method == "grid":
        grid = itertools.product(*(p.values or [] for p in params))
        return [tuple((p.path, _cast(p, v)) for p, v in zip(params, combo, strict=True)) for combo in grid]
    unit = qmc.LatinHypercube(d=len(params), seed=design.seed).random(design.samples)
    lows = np.array([p.low for p in params], dtype=float)
    highs = np.array([p.high for p in params], dtype=float)
    values = qmc.scale(unit, lows, highs) if np.any(highs > lows) else np.tile(lows, (len(unit), 1))
    return [tuple((p.path, _cast(p, v)) for p, v in zip(params, row, strict=True)) for row in values]


def _cast(param: Parameter, value: float) -> float:
    return float(round(value)) if param.integer else float(value)


def _overrides(point: tuple[tuple[str, float], ...], years: int | None) -> list[str]:
    out = [f"{path}={value!r}" for path, value in point]
    if years is not None:
        out.append(f"run.years={years}")
    return out


def expand(
    scenarios: list[Path],
    replications: int,
    seed: int,
    points: list[tuple[tuple[str, float], ...]] | None = None,
    years: int | None = None,
    labels: list[str] | None = None,
) -> list[RunSpec]:
    """Every point × scenario × replication, replication i seeded alike everywhere (CRN)."""
    labels = labels or [s.stem for s in scenarios]
    specs = []
    for point in points or [()]:
        overrides = tuple(_overrides(point, years))
        for scenario, label in zip(scenarios, labels, strict=True):
            for rep in range(replications):
                specs.append(
                    RunSpec(
                        label=label,
                        scenario=str(scenario),
                        overrides=overrides,
                        replication=rep,
                        seed=replication_seed(seed, rep),
                        params=point,
                    )
                )
    return specs
