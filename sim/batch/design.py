"""Batch designs: an experiment's parameter points, expanded into run specs.

Every design point × scenario × replication becomes one :class:`~sim.batch.runner.RunSpec`,
replication ``i`` always with the same seed (common random numbers).
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.stats import qmc

from sim.batch.runner import RunSpec, replication_seed
from sim.io.experiment_file import Arm, Design, SweptParameter, point_overrides


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


def _cast(param: SweptParameter, value: float) -> float:
    """A point's value: whole for integer parameters and whole grid values, else a Python float."""
    if param.integer:
        return int(round(value))
    return value if isinstance(value, int) else float(value)


def expand(
    arms: list[Arm],
    replications: int,
    seed: int,
    points: list[tuple[tuple[str, float], ...]] | None = None,
    years: int | None = None,
) -> list[RunSpec]:
    """Every point × arm × replication, replication i seeded alike everywhere (CRN)."""
    specs = []
    for point in points or [()]:
        overrides = tuple(point_overrides(point, years))
        for arm in arms:
            for rep in range(replications):
                specs.append(
                    RunSpec(
                        label=arm.label,
                        scenario=str(arm.scenario),
                        overrides=(*arm.overrides, *overrides),
                        replication=rep,
                        seed=replication_seed(seed, rep),
                        params=point,
                        package=None if arm.package is None else str(arm.package),
                    )
                )
    return specs
