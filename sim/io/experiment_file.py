"""Experiment files (``experiments/*.toml``): which runs a batch consists of.

An experiment names scenarios, a number of replications, optionally the years, a design over
parameters (a grid, or a Latin hypercube over ranges, by dotted path — list items by index,
e.g. ``levers.award.items[0].amount``) and the outcomes to keep. :mod:`sim.batch.design`
expands it into run specs. Validated like scenario files: errors are one line naming the file
and key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from sim.core.errors import InputError
from sim.core.schema import Section
from sim.io.files import load_file, load_scenario


class SweptParameter(Section):
    """One swept input: grid ``values``, or a ``low``–``high`` range for a Latin hypercube."""

    path: str
    values: list[float] | None = None
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
    exp = load_file(path, Experiment)
    scenarios = [(path.parent / s).resolve() for s in exp.experiment.scenarios]
    for k, scenario in enumerate(scenarios):
        if not scenario.is_file():
            raise InputError(f"{path}: experiment.scenarios[{k}]: {scenario} not found")
    probe = [(p.path, p.values[0] if p.values else p.low) for p in exp.design.parameters]
    try:
        load_scenario(scenarios[0], point_overrides(tuple(probe), exp.experiment.years))
    except InputError as exc:
        raise InputError(f"{path}: design.parameters (first point): {exc}") from None
    return exp, scenarios


def point_overrides(point: tuple[tuple[str, float], ...], years: int | None) -> list[str]:
    """``--set`` overrides of one design point (and of the experiment's years)."""
    out = [f"{path}={value!r}" for path, value in point]
    if years is not None:
        out.append(f"run.years={years}")
    return out
