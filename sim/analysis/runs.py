"""Tables of finished batches: the index of run specs and each run's scalar outcomes.

Reads the run folders a batch wrote (never a running model); outcome names and reductions come
from the registry (:mod:`sim.core.outcomes`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sim.core.errors import InputError
from sim.core.outcomes import RUN_OUTCOMES
from sim.io.run_store import load_table


def batch_index(specs, keys: list[str]) -> pd.DataFrame:
    """One row per run spec: key, label, scenario, replication, seed and swept parameters.

    Built from the specs, not from the run folders: two specs that resolve to the same scenario
    and seed share one run (and its folder) but keep their own labels.
    """
    rows = []
    for spec, key in zip(specs, keys, strict=True):
        params = {f"param.{path}": value for path, value in spec.params}
        rows.append(
            {
                "key": key,
                "label": spec.label,
                "scenario": spec.scenario,
                "replication": spec.replication,
                "seed": spec.seed,
                **params,
            }
        )
    return pd.DataFrame(rows)


def outcome_names() -> set[str]:
    """Every run outcome a batch can report, for checking requests before a batch runs."""
    return set(RUN_OUTCOMES)


def check_outcomes(path: str, outcomes: list[str], extra: set[str] = frozenset()) -> None:
    """Refuse unknown outcome names with one line naming the file and key (before any run)."""
    known = outcome_names() | extra
    unknown = [o for o in outcomes if o not in known]
    if unknown:
        raise InputError(
            f"{path}: experiment.outcomes: unknown outcome(s) {unknown}; known: {', '.join(sorted(known))}"
        )


def end_outcomes(series: pd.DataFrame) -> pd.DataFrame:
    """One row per run (indexed by key), one column per run outcome of the registry.

    ``last`` outcomes take the final year; ``sum`` outcomes add the simulated years (the first
    row, the state before the first simulated year, is not part of a sum).
    """
    last = series.sort_values("year").groupby("key").tail(1).set_index("key")
    body = series[series["year"] > series.groupby("key")["year"].transform("min")]
    sums = body.groupby("key").sum(numeric_only=True).reindex(last.index, fill_value=0)
    out = pd.DataFrame(index=last.index)
    for outcome in RUN_OUTCOMES.values():
        out[outcome.name] = (last if outcome.reduce == "last" else sums)[outcome.of]
    return out


def sweep_tables(
    out_dir: Path, index: pd.DataFrame, outcomes: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``runs`` (one row per run: parameters, seed, outcomes) and ``series`` (per run-year)."""
    series = load_table(out_dir, list(index["key"]), "series")
    ends = end_outcomes(series)
    if outcomes:  # names checked by check_outcomes
        ends = ends[outcomes]
    runs = index.merge(ends, left_on="key", right_index=True)
    return runs, series
