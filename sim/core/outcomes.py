"""Outcomes, declared once: what a run reports each year and how a run reduces to one number.

Every consumer derives from this registry: the model's DataCollector reporters, the columns of
``metrics.parquet`` and of a batch run's ``series.parquet``, the outcome names that experiments
(sweep, sensitivity) may ask for, and the moments a calibration fits. A per-year
:class:`Outcome` is computed from the live model (``reporter``) or from the run's ledger
(``ledger``); a :class:`RunOutcome` reduces one per-year outcome over the simulated years (the
first row, the state before the first simulated year, is not part of a sum). One spelling:
``<quantity>.<tier>`` (``stock.srdi``, ``new.srdi``), ``spend.<lever>``, ``spend_level.<level>``.
Adding a metric to ``compare`` is adding one entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Literal

import numpy as np

from sim.core.certification import FLOWS
from sim.core.levers import LEVERS
from sim.core.vocab import PAYING_LEVELS, TIER_IDS

if TYPE_CHECKING:
    from sim.core.model import LadderModel


@dataclass(frozen=True)
class Outcome:
    """A quantity observed once a year (at the end of the year)."""

    name: str
    unit: str
    description: str
    reporter: Callable[[LadderModel], float] | None = None  # from the live model
    ledger: tuple[str, str] | None = None  # ("lever" | "level", id) or ("total", ""): spend that year
    metrics_table: bool = False  # a column of ``metrics.parquet``
    undefined_when_empty: bool = False  # a mean over firms that may be none (then NaN, not 0)


@dataclass(frozen=True)
class RunOutcome:
    """One number per run: a per-year outcome reduced over the simulated years."""

    name: str
    of: str
    reduce: Literal["last", "sum"]
    unit: str
    paired: bool = True  # ``compare`` reports its paired difference from the counterfactual


# ---------------------------------------------------------------------------- reporters


def _above(model: LadderModel) -> np.ndarray:
    return model.firms["revenue"] >= model.scenario.population.above_scale_revenue


def tier_flow(model: LadderModel, tier: str, flow: str) -> int:
    """One flow count of one tier this year."""
    return model.flows.counts[tier][flow]


def tier_stock(model: LadderModel, tier: str) -> int:
    """Firms holding ``tier`` at the end of the year."""
    return int(np.count_nonzero(model.firms[f"held_{tier}"]))


def column_total(model: LadderModel, column: str, above_scale_only: bool = False) -> float:
    """Sum of a state column over live firms (or above-scale firms only)."""
    values = model.firms[column]
    if above_scale_only:
        values = values[_above(model)]
    return float(values.sum())


def rd_intensity(model: LadderModel, above_scale_only: bool = False) -> float:
    """Aggregate R&D ÷ revenue."""
    rev = column_total(model, "revenue", above_scale_only)
    return column_total(model, "rd", above_scale_only) / rev if rev > 0 else 0.0


def holders_mean(model: LadderModel, tier: str, column: str) -> float:
    """Mean of a column (R&D intensity for ``rd_intensity``) over the holders of ``tier``."""
    held = model.firms[f"held_{tier}"]
    if not held.any():
        return float("nan")
    if column == "rd_intensity":
        rev = model.firms["revenue"]
        values = np.divide(model.firms["rd"], rev, out=np.zeros_like(rev), where=rev > 0)
    else:
        values = model.firms[column].astype(np.float64)
    return float(values[held].mean())


def _entrants(model: LadderModel) -> int:
    return int(np.count_nonzero(model.firms["born_year"] == model.year))


def _year(model: LadderModel) -> int:
    return model.year


def _declare() -> tuple[dict[str, Outcome], dict[str, RunOutcome]]:
    per_year = [
        Outcome("year", "year", "calendar year of the row (end of year)", _year),
        Outcome("firms_alive", "firms", "live firms", lambda m: m.firms.n, metrics_table=True),
        Outcome(
            "above_scale_firms",
            "firms",
            "above-designated-size (规上) firms: revenue at or above the scenario's gate",
            lambda m: int(np.count_nonzero(_above(m))),
            metrics_table=True,
        ),
        Outcome("entrants", "firms", "firms born this year", _entrants, metrics_table=True),
        Outcome(
            "revenue_total",
            "万元",
            "revenue of live firms",
            partial(column_total, column="revenue"),
            metrics_table=True,
        ),
        Outcome(
            "rd_total", "万元", "R&D of live firms", partial(column_total, column="rd"), metrics_table=True
        ),
        Outcome("rd_intensity", "ratio", "aggregate R&D ÷ revenue", rd_intensity, metrics_table=True),
        Outcome(
            "rd_intensity_above_scale",
            "ratio",
            "R&D ÷ revenue of above-scale firms",
            partial(rd_intensity, above_scale_only=True),
            metrics_table=True,
        ),
        Outcome(
            "rd_total_above_scale",
            "万元",
            "R&D of above-scale firms",
            partial(column_total, column="rd", above_scale_only=True),
            metrics_table=True,
        ),
        Outcome(
            "class1_ip_total",
            "patents",
            "Class I IP held",
            partial(column_total, column="class1_ip"),
            metrics_table=True,
        ),
        Outcome(
            "class2_ip_total",
            "patents",
            "Class II IP held",
            partial(column_total, column="class2_ip"),
            metrics_table=True,
        ),
        Outcome(
            "class1_ip_holders",
            "firms",
            "firms holding Class I IP",
            lambda m: int(np.count_nonzero(m.firms["class1_ip"] > 0)),
        ),
        Outcome(
            "little_giant_rd_intensity_mean",
            "ratio",
            "mean R&D intensity of little giants",
            partial(holders_mean, tier="little_giant", column="rd_intensity"),
            undefined_when_empty=True,
        ),
        Outcome(
            "little_giant_class1_ip_mean",
            "patents",
            "mean Class I IP of little giants",
            partial(holders_mean, tier="little_giant", column="class1_ip"),
            undefined_when_empty=True,
        ),
    ]
    for tier in TIER_IDS:
        per_year.append(
            Outcome(f"stock.{tier}", "firms", f"firms holding {tier}", partial(tier_stock, tier=tier))
        )
        for flow in FLOWS:
            per_year.append(
                Outcome(
                    f"{flow}.{tier}",
                    "firms",
                    f"{tier} certificates {flow} this year",
                    partial(tier_flow, tier=tier, flow=flow),
                )
            )
    for lever_id in LEVERS:
        per_year.append(
            Outcome(f"spend.{lever_id}", "万元", f"paid by {lever_id}", ledger=("lever", lever_id))
        )
    for level in PAYING_LEVELS:
        per_year.append(
            Outcome(f"spend_level.{level}", "万元", f"paid by the {level} level", ledger=("level", level))
        )
    per_year.append(Outcome("spend_total", "万元", "paid by every lever", ledger=("total", "")))

    per_run = [
        RunOutcome("spend_total", "spend_total", "sum", "万元"),
        RunOutcome("rd_cumulative", "rd_total", "sum", "万元"),
        RunOutcome("rd_end", "rd_total", "last", "万元"),
        RunOutcome("firms_alive_end", "firms_alive", "last", "firms"),
    ]
    for tier in TIER_IDS:
        per_run.append(RunOutcome(f"stock.{tier}", f"stock.{tier}", "last", "firms"))
        per_run.append(RunOutcome(f"added.{tier}", f"new.{tier}", "sum", "firms"))
        per_run.append(RunOutcome(f"newly_certified.{tier}", f"first.{tier}", "sum", "firms"))
    for lever_id in LEVERS:
        per_run.append(RunOutcome(f"spend.{lever_id}", f"spend.{lever_id}", "sum", "万元"))
    for level in PAYING_LEVELS:
        per_run.append(RunOutcome(f"spend_level.{level}", f"spend_level.{level}", "sum", "万元"))
    return {o.name: o for o in per_year}, {o.name: o for o in per_run}


OUTCOMES, RUN_OUTCOMES = _declare()


def reporters() -> dict[str, Callable]:
    """The DataCollector's model reporters: every per-year outcome computed from the model."""
    return {o.name: o.reporter for o in OUTCOMES.values() if o.reporter is not None}


def may_be_undefined() -> frozenset[str]:
    """Outcomes that are NaN by definition in a year without the firms they average over."""
    return frozenset(o.name for o in OUTCOMES.values() if o.undefined_when_empty)


def metrics_columns() -> list[str]:
    """Columns of ``metrics.parquet`` besides ``year``."""
    return [o.name for o in OUTCOMES.values() if o.metrics_table]
