"""Calibration files (``experiments/calibrate-*.toml``): what to fit, to which observed moments.

A calibration file names a scenario, the parameters to fit (dotted paths with bounds, linear or
log scale) and the observed targets, each a *moment*: a per-year outcome of the registry
(:mod:`sim.core.outcomes`) read at the end of the warm-up, the last observed year. ``fit``
targets enter the objective, ``check`` targets are kept aside as out-of-sample checks. The
fitting itself is :mod:`sim.analysis.calibration`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from sim.core.errors import InputError
from sim.core.outcomes import OUTCOMES
from sim.core.schema import FolderName, Section
from sim.io.files import load_file, load_scenario


def moment_names() -> list[str]:
    """Moments a calibration may target: every per-year outcome but the calendar year."""
    return [name for name in OUTCOMES if name != "year"]


class FittedParameter(Section):
    """A fitted input: dotted path, bounds, scale, optional start (default: scenario value)."""

    path: str
    low: float
    high: float
    scale: Literal["linear", "log"] = "linear"
    start: float | None = None
    integer: bool = False

    @model_validator(mode="after")
    def _bounds(self) -> FittedParameter:
        if not self.low < self.high:
            raise ValueError(f"{self.path}: low must be below high")
        if self.scale == "log" and self.low <= 0:
            raise ValueError(f"{self.path}: a log scale needs low > 0")
        if self.start is not None and not self.low <= self.start <= self.high:
            raise ValueError(f"{self.path}: start must lie within [low, high]")
        return self

    def to_value(self, u: float) -> float:
        """Unit-cube coordinate → parameter value."""
        u = float(np.clip(u, 0.0, 1.0))
        if self.scale == "log":
            value = float(np.exp(np.log(self.low) + u * (np.log(self.high) - np.log(self.low))))
        else:
            value = self.low + u * (self.high - self.low)
        return int(round(value)) if self.integer else value

    def to_unit(self, value: float) -> float:
        """Parameter value → unit-cube coordinate."""
        if self.scale == "log":
            return float((np.log(value) - np.log(self.low)) / (np.log(self.high) - np.log(self.low)))
        return float((value - self.low) / (self.high - self.low))


class ObservedTarget(Section):
    """An observed moment with its weight, role and citation."""

    name: str
    moment: str
    observed: float
    weight: float = Field(default=1.0, ge=0.0)
    use: Literal["fit", "check"] = "fit"
    source: str
    note: str = ""  # why the model may miss it (shown in the validation report)

    @model_validator(mode="after")
    def _known(self) -> ObservedTarget:
        if self.moment not in moment_names():
            raise ValueError(f"unknown moment {self.moment!r}; known: {', '.join(moment_names())}")
        if self.observed == 0:
            raise ValueError(f"target {self.name}: observed must be non-zero (errors are relative)")
        return self


class CalibrationMeta(Section):
    """Which scenario, how many replications, and how hard to search."""

    name: FolderName
    description: str = ""
    scenario: str
    replications: int = Field(ge=1, le=1000)
    final_replications: int = Field(default=0, ge=0, le=10000)
    seed: int = 0
    max_evaluations: int = Field(default=200, ge=1, le=100_000)
    overrides: list[str] = Field(default_factory=list)


class Calibration(Section):
    """A validated calibration file."""

    calibration: CalibrationMeta
    parameters: list[FittedParameter] = Field(min_length=1)
    targets: list[ObservedTarget] = Field(min_length=1)

    @model_validator(mode="after")
    def _has_fit_targets(self) -> Calibration:
        if not any(t.use == "fit" for t in self.targets):
            raise ValueError("at least one target must have use = 'fit'")
        return self


def load_calibration(path: str | Path) -> tuple[Calibration, Path]:
    """Validate a calibration file; return it and its scenario path."""
    path = Path(path)
    cal = load_file(path, Calibration)
    scenario = (path.parent / cal.calibration.scenario).resolve()
    try:
        load_scenario(scenario, cal.calibration.overrides)
        for p in cal.parameters:
            load_scenario(scenario, [*cal.calibration.overrides, f"{p.path}={p.to_value(0.5)!r}"])
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None
    return cal, scenario
