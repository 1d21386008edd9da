"""Batch designs: an experiment's parameter points, expanded into run specs.

Every design point × scenario × replication becomes one :class:`~sim.batch.runner.RunSpec`,
replication ``i`` always with the same seed (common random numbers).
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.stats import qmc

from sim.batch.runner import RunSpec, replication_seed
from sim.io.experiment_file import Arm, Design, Point, point_overrides


def design_points(design: Design) -> list[Point]:
    """Parameter points of the design (one empty point when nothing is swept).

    The design is validated: grids have values and ranges have low < high, and its size
    (:attr:`Design.points`) was checked against :data:`~sim.io.experiment_file.MAX_RUNS` when the
    file was loaded, before anything is expanded here.
    """
    params = design.parameters
    if design.method == "none":
        return [()]
    if design.method == "grid":
        grid = itertools.product(*(p.values or [] for p in params))
        return [tuple((p.path, p.cast(v)) for p, v in zip(params, combo, strict=True)) for combo in grid]
    unit = qmc.LatinHypercube(d=len(params), seed=design.seed).random(design.samples)
    lows = np.array([p.low for p in params], dtype=float)
    highs = np.array([p.high for p in params], dtype=float)
    values = qmc.scale(unit, lows, highs)
    return [tuple((p.path, p.cast(v)) for p, v in zip(params, row, strict=True)) for row in values]


def expand(
    arms: list[Arm],
    replications: int,
    seed: int,
    points: list[Point] | None = None,
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
