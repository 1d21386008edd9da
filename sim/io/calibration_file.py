"""Calibration files (``experiments/calibrate-*.toml``): what to fit, to which observed moments.

A calibration file names a scenario, the parameters to fit (dotted paths with bounds, linear or
log scale) and the observed targets, each a *moment*: a per-year outcome of the registry
(:mod:`sim.core.outcomes`) read at the end of the warm-up, the last observed year. ``fit``
targets enter the objective, ``check`` targets are kept aside as out-of-sample checks. The
fitting itself is :mod:`sim.analysis.calibration`.

Everything is checked before the first run, so a calibration never fails after hours of fitting:
each parameter path must name a number of the scenario (items of arrays by index, as ``--set``
reads them), both bounds must give a valid scenario, and the overlay that will hold the fitted
values must load.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import numpy as np
from pydantic import Field, model_validator

from sim.core.errors import InputError
from sim.core.outcomes import OUTCOMES
from sim.core.scenario import Scenario
from sim.core.schema import FolderName, Section
from sim.io.files import (
    apply_overrides,
    deep_merge,
    load_file,
    load_raw,
    load_scenario,
    switch_off,
    validate_as,
)


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
    """Validate a calibration file and its parameters against its scenario; return both."""
    path = Path(path)
    cal = load_file(path, Calibration)
    scenario = (path.parent / cal.calibration.scenario).resolve()
    try:
        check_parameters(cal, scenario)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None
    return cal, scenario


# ------------------------------------------------------------------------- parameter paths

PATH_PART = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\])?")
PATH_FORM = "a dotted path of names, items of arrays by index (e.g. levers.award.items[3].amount)"
Part = tuple[str, int | None]


def path_parts(path: str) -> list[Part]:
    """The parts of a parameter path, read as ``--set`` reads it: ``name[i]`` is item i of an array."""
    parts = []
    for text in path.split("."):
        match = PATH_PART.fullmatch(text)
        if match is None:
            raise LookupError(f"{path!r} is not {PATH_FORM}")
        name, index = match.groups()
        parts.append((name, None if index is None else int(index)))
    return parts


def value_at(data: dict[str, Any], path: str) -> int | float:
    """The number ``path`` names in a scenario's data (its ``model_dump``).

    Raises :class:`LookupError` saying what is there instead: no such key (and the keys there
    are), an optional section that is not set (a lever that is off), an index out of range, or
    a value that is not a number.
    """
    node: Any = data
    here = ""
    for name, index in path_parts(path):
        if not isinstance(node, dict):
            raise LookupError(f"{here} is a value, not a table")
        if name not in node:
            keys = ", ".join(k for k in node if k != "sources")
            raise LookupError(f"{here or 'the scenario'} has no key {name!r} (it has: {keys})")
        node, here = node[name], f"{here}.{name}".lstrip(".")
        if node is None:
            raise LookupError(
                f"{here} is not set in the scenario (an optional value or section, such as a lever "
                "the scenario does not have, cannot be fitted)"
            )
        if index is not None:
            if not isinstance(node, list):
                raise LookupError(f"{here} is not an array")
            if index >= len(node):
                raise LookupError(f"{here} has {len(node)} item(s), so no item {index}")
            node, here = node[index], f"{here}[{index}]"
    if isinstance(node, bool) or not isinstance(node, int | float):
        kind = "an array: name an item by index" if isinstance(node, list) else f"not a number ({node!r})"
        raise LookupError(f"{here} is {kind}")
    return node


def check_parameters(cal: Calibration, scenario: Path) -> None:
    """Refuse, before any run, a parameter the fit could not vary or the overlay could not hold."""
    origin = str(scenario)
    extended = load_scenario(scenario)  # what the fitted overlay extends
    raw = load_raw(scenario)
    overrides = list(cal.calibration.overrides)
    varied = _scenario_with(raw, overrides, origin).model_dump()  # what the fit varies
    kept = extended.model_dump()
    for i, p in enumerate(cal.parameters):
        current = _current(f"parameters[{i}]", p.path, varied, kept, scenario)
        if isinstance(current, int) and not p.integer:
            raise InputError(f"parameters[{i}].integer: {p.path} is a whole number: set integer = true")
    _check_unique(cal.parameters)
    for i, p in enumerate(cal.parameters):
        _check_bounds(f"parameters[{i}]", p, raw, overrides, extended, origin)


def _check_bounds(
    where: str, p: FittedParameter, raw: dict[str, Any], overrides: list[str], extended: Scenario, origin: str
) -> None:
    """Both bounds must give a valid scenario, as the fit varies it and as the overlay holds it."""
    for bound, u in (("low", 0.0), ("high", 1.0)):
        value = p.to_value(u)
        try:
            _scenario_with(raw, [*overrides, f"{p.path}={value!r}"], origin)
        except InputError as exc:
            raise InputError(f"{where}.{bound} = {value!r}: {exc}") from None
        try:
            _scenario_with(deep_merge(raw, overlay_layer(extended, [p], [value], "fitted")), [], origin)
        except InputError as exc:
            raise InputError(
                f"{where}.{bound} = {value!r}: the fitted overlay, which extends the scenario without "
                f"calibration.overrides, would not load: {exc}"
            ) from None


def _current(
    where: str, path: str, varied: dict[str, Any], kept: dict[str, Any], scenario: Path
) -> int | float:
    """The scenario's value at a parameter path, which the overlay (no overrides) must have too."""
    try:
        current = value_at(varied, path)
    except LookupError as exc:
        raise InputError(f"{where}.path: {exc}") from None
    try:
        value_at(kept, path)
    except LookupError as exc:
        raise InputError(
            f"{where}.path: {path} is set only by calibration.overrides, but the fitted overlay "
            f"extends {scenario.name} without them ({exc})"
        ) from None
    return current


def _check_unique(parameters: list[FittedParameter]) -> None:
    """One parameter per path: a value fitted twice would have two values at once."""
    seen: dict[str, int] = {}
    for i, p in enumerate(parameters):
        if p.path in seen:
            raise InputError(
                f"parameters[{i}].path: {p.path} is fitted twice (also parameters[{seen[p.path]}])"
            )
        seen[p.path] = i


def _scenario_with(raw: dict[str, Any], overrides: list[str], origin: str) -> Scenario:
    """Validate a scenario's merged data with overrides (:func:`~sim.io.files.load_scenario`, read once)."""
    return validate_as(Scenario, switch_off(apply_overrides(raw, overrides, origin), origin), origin)


# ------------------------------------------------------------------------- fitted overlay


def overlay_layer(
    extended: Scenario, parameters: list[FittedParameter], values: list[float], cite: str
) -> dict[str, Any]:
    """What a fitted overlay sets: each value at its path, cited in its innermost section.

    An overlay's tables merge with the scenario it extends but its arrays replace the
    scenario's, so an array on a path is copied whole from ``extended`` and only the fitted item
    changed: the other items stay as they are.
    """
    source = extended.model_dump(mode="json", exclude_none=True)
    layer: dict[str, Any] = {}
    for p, value in zip(parameters, values, strict=True):
        parts = path_parts(p.path)
        *inner, (name, index) = parts
        node, src = _table(layer, source, inner)
        if index is None:
            node[name] = int(value) if p.integer else value
        else:
            node.setdefault(name, copy.deepcopy(src[name]))[index] = int(value) if p.integer else value
        cut, key = _citation_slot(parts)
        _table(layer, source, parts[:cut])[0].setdefault("sources", {})[key] = cite
    return layer


def _table(layer: dict[str, Any], source: dict[str, Any], parts: list[Part]) -> tuple[dict, dict]:
    """The table at ``parts`` in ``layer`` (created as needed) and in ``source``.

    Arrays on the way are copied whole from ``source`` into ``layer``.
    """
    node, src = layer, source
    for name, index in parts:
        if index is None:
            node, src = node.setdefault(name, {}), src[name]
        else:
            node, src = node.setdefault(name, copy.deepcopy(src[name]))[index], src[name][index]
    return node, src


def _citation_slot(parts: list[Part]) -> tuple[int, str]:
    """Where a value's citation goes: the number of parts to its innermost section, and its key there."""
    cls: type[Section] = Scenario
    for depth, (name, _) in enumerate(parts[:-1]):
        inner = _section_in(cls.model_fields[name].annotation)
        if inner is None:
            return depth, name
        cls = inner
    return len(parts) - 1, parts[-1][0]


def _section_in(annotation: Any) -> type[Section] | None:
    """The section a field holds, itself, when optional or as array items (not as a mapping's values)."""
    if isinstance(annotation, type) and issubclass(annotation, Section):
        return annotation
    if get_origin(annotation) is dict:
        return None
    return next((s for arg in get_args(annotation) if (s := _section_in(arg)) is not None), None)
