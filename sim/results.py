"""One run's results on disk: Parquet tables, a manifest and the tier chart.

Files are written to a temporary name and renamed, so a folder never holds a half-written
table. Data files are deterministic for a scenario and seed (the manifest records wall time
and the command, so it is the one file that differs between identical runs).
"""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim import __version__
from sim.certification import FLOWS
from sim.firms import NO_YEAR
from sim.ledger import Ledger
from sim.model import LadderModel
from sim.scenario import TIER_IDS, file_hash, scenario_hash

METRIC_COLUMNS = (
    "firms_alive",
    "above_scale_firms",
    "entrants",
    "revenue_total",
    "rd_total",
    "rd_intensity",
    "rd_total_above_scale",
    "rd_intensity_above_scale",
    "class1_ip_total",
    "class2_ip_total",
)


def tiers_table(model: LadderModel) -> pd.DataFrame:
    """Long table: year, tier, stock, new, renewed, removed, exited (first rows = initial state)."""
    wide = model.datacollector.get_model_vars_dataframe()
    parts = []
    for tier in TIER_IDS:
        part = pd.DataFrame(
            {
                "year": wide["year"].astype("int32"),
                "tier": tier,
                "stock": wide[f"{tier}.stock"].astype("int64"),
            }
        )
        for flow in FLOWS:
            part[flow] = wide[f"{tier}.{flow}"].astype("int64")
        parts.append(part)
    return pd.concat(parts, ignore_index=True).sort_values(["year", "tier"], kind="stable", ignore_index=True)


def metrics_table(model: LadderModel) -> pd.DataFrame:
    """Year-level aggregates: firms, revenue, R&D, R&D intensity, IP (money in 万元)."""
    wide = model.datacollector.get_model_vars_dataframe()
    out = wide[["year", *METRIC_COLUMNS]].reset_index(drop=True)
    return out.astype({"year": "int32"})


def firms_table(model: LadderModel) -> pd.DataFrame:
    """Final state of every firm ever simulated, one row each, tiers as booleans."""
    cols = model.firms.all_firms()
    data: dict[str, Any] = {}
    for name, values in cols.items():
        if name.startswith(("since_", "expires_", "first_")) or name == "new_class1":
            continue
        data[name.removeprefix("held_")] = values
    for tier in TIER_IDS:
        first = cols[f"first_{tier}"]
        data[f"first_{tier}"] = pd.array(np.where(first == NO_YEAR, None, first), dtype="Int32")
    return pd.DataFrame(data)


def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write a Parquet file atomically, without the index."""
    _atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False, engine="pyarrow"))


def manifest(
    model: LadderModel, scenario_path: str, seed: int, argv: list[str], wall_seconds: float
) -> dict[str, Any]:
    """What determines the run and how it was made."""
    sc = model.scenario
    return {
        "scenario": {
            "path": str(scenario_path),
            "sha256": file_hash(scenario_path),
            "resolved_sha256": scenario_hash(sc),
            "name": sc.meta.name,
        },
        "seed": seed,
        "years": sc.run.years,
        "start_year": sc.run.start_year,
        "rules": sc.run.rules,
        "initial_tiers_placed": model.placed,
        "initial_tiers_requested": dict(sc.certification.initial),
        "package": {"name": "sme-ladder", "version": __version__},
        "python": platform.python_version(),
        "command": argv,
        "wall_seconds": round(wall_seconds, 3),
        "parameters": sc.model_dump(mode="json"),
    }


def write_run(
    model: LadderModel,
    out: Path,
    scenario_path: str,
    seed: int,
    argv: list[str],
    wall_seconds: float,
    ledger_firms: bool = False,
) -> dict[str, Path]:
    """Write every output file of one run into ``out``; returns their paths.

    ``ledger_firms`` adds ``ledger_firms.parquet`` with one row per payment.
    """
    from sim.plots import plot_budget, plot_tiers

    out.mkdir(parents=True, exist_ok=True)
    names = [
        "tiers.parquet",
        "metrics.parquet",
        "firms.parquet",
        "ledger.parquet",
        "budget.parquet",
        "tiers.png",
        "budget.png",
        "manifest.json",
    ]
    if ledger_firms:
        names.insert(5, "ledger_firms.parquet")
    paths = {name: out / name for name in names}
    tiers = tiers_table(model)
    ledger = model.policy.ledger if model.policy else Ledger()
    rows = ledger.firm_rows()
    ledger_table = ledger.table(rows)
    write_parquet(tiers, paths["tiers.parquet"])
    write_parquet(metrics_table(model), paths["metrics.parquet"])
    write_parquet(firms_table(model), paths["firms.parquet"])
    write_parquet(ledger_table, paths["ledger.parquet"])
    write_parquet(ledger.budget_table(), paths["budget.parquet"])
    if ledger_firms:
        write_parquet(rows, paths["ledger_firms.parquet"])
    name = model.scenario.meta.name
    _atomic_write(
        paths["tiers.png"],
        lambda tmp: plot_tiers(tiers, tmp, f"{name}: firms per tier (seed {seed})"),
    )
    years = list(range(model.scenario.run.start_year, model.year + 1))
    _atomic_write(
        paths["budget.png"],
        lambda tmp: plot_budget(ledger_table, years, tmp, f"{name}: spend by lever"),
    )
    info = manifest(model, scenario_path, seed, argv, wall_seconds)
    info["spend_total_wan"] = round(ledger.total(), 4)
    info["committed_after_end_wan"] = (
        round(model.policy.commitments.outstanding(), 4) if model.policy else 0.0
    )
    text = json.dumps(info, indent=2, ensure_ascii=False)
    _atomic_write(paths["manifest.json"], lambda tmp: tmp.write_text(text + "\n", encoding="utf-8"))
    return paths


def command_line() -> list[str]:
    """The command as typed (program name shortened to its base name)."""
    return [Path(sys.argv[0]).name, *sys.argv[1:]]
