"""The run folders of a batch: one folder per finished run, written atomically, read back.

A run's folder ``<out>/runs/<key>/`` holds its tables as Parquet and ``meta.json``. It is
written under a temporary name and renamed into place, so a folder exists only for a run that
finished; re-running a batch skips every key already on disk.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.core.firms import widened
from sim.core.levers import AWARD, with_trait
from sim.core.model import LadderModel
from sim.core.outcomes import OUTCOMES
from sim.io.folder import checksums, mismatched
from sim.io.results import check_finite

RUNS_DIR = "runs"


@dataclass
class RunResult:
    """The tables and metadata of one finished run, before they are stored."""

    key: str
    tables: dict[str, pd.DataFrame]
    meta: dict


def series_frame(model: LadderModel, ledger: pd.DataFrame) -> pd.DataFrame:
    """Year-level outcomes of a run, one column per outcome of the registry.

    Model outcomes come from the DataCollector; spend outcomes from the run's aggregated ledger
    (``Ledger.table``), zero in a year nothing was paid.
    """
    out = model.datacollector.get_model_vars_dataframe().reset_index(drop=True)
    years = out["year"].to_numpy()
    spend = {
        kind: ledger.groupby(["year", kind])["amount_wan"].sum().unstack(kind) for kind in ("lever", "level")
    }
    spend["total"] = ledger.groupby("year")["amount_wan"].sum().to_frame("")
    columns = {
        o.name: spend[o.ledger[0]]
        .reindex(index=years, columns=[o.ledger[1]])[o.ledger[1]]
        .fillna(0.0)
        .to_numpy()
        for o in OUTCOMES.values()
        if o.ledger is not None
    }
    return pd.concat([out, pd.DataFrame(columns, dtype="float64")], axis=1)


def run_tables(model: LadderModel) -> dict[str, pd.DataFrame]:
    """The tables a batch keeps of one run: series, ledger, certifications and award money."""
    rows = model.policy.ledger.firm_rows()
    ledger = model.policy.ledger.table(rows)
    return {
        "series": series_frame(model, ledger),
        "ledger": ledger,
        "certified": _certified(model),
        "awards": _awards(rows),
    }


PANEL_COLUMNS = (
    "firm_id",
    "revenue",
    "revenue_prev",
    "rd",
    "age",
    "main_share",
    "niche_rivals",
    "held_innovative",
    "held_high_tech",
    "held_little_giant",
    "held_single_champion",
)


def panel_rows(model: LadderModel) -> pd.DataFrame:
    """Live firms of this year as panel rows: year and the columns firm-level statistics use."""
    data = {"year": model.year, **{c: widened(model.firms[c]).copy() for c in PANEL_COLUMNS}}
    return pd.DataFrame(data)


def _certified(model: LadderModel) -> pd.DataFrame:
    """Firms that started a certificate (new or renewed) of each tier in the simulated years.

    What a paired reference run certified, for deadweight: an award paid for a certificate the
    reference run also granted bought nothing.
    """
    parts = [
        pd.DataFrame({"tier": tier, "firm_id": np.unique(np.concatenate(logged))})
        for tier, logged in model.certified_log.items()
        if logged
    ]
    if not parts:
        return pd.DataFrame({"tier": pd.Series(dtype="object"), "firm_id": pd.Series(dtype="int64")})
    return pd.concat(parts, ignore_index=True)


def _awards(rows: pd.DataFrame) -> pd.DataFrame:
    """Money of the award-like levers per firm and tier over the run."""
    rows = rows[rows["lever"].isin(with_trait(AWARD))]
    out = rows.groupby(["firm_id", "tier"], as_index=False)["amount_wan"].sum()
    return out.astype({"firm_id": "int64", "amount_wan": "float64"})


def store(result: RunResult, out_dir: Path) -> None:
    """Write a run's folder through a temporary name, so only finished runs have a folder.

    ``meta.json`` lists each table's checksum: a run whose files no longer match is re-run.
    """
    final = out_dir / RUNS_DIR / result.key
    if final.exists():
        return
    for name, table in result.tables.items():
        check_finite(table, f"run {result.key}: {name}")
    tmp = out_dir / RUNS_DIR / f".tmp-{result.key}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name, table in result.tables.items():
        table.to_parquet(tmp / f"{name}.parquet", index=False)
    files = checksums(tmp, [f"{name}.parquet" for name in result.tables])
    meta = {**result.meta, "files": files}
    (tmp / "meta.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    try:
        os.rename(tmp, final)
    except OSError:  # the same key was stored meanwhile
        shutil.rmtree(tmp, ignore_errors=True)


def finished_keys(out_dir: Path, wanted: set[str]) -> set[str]:
    """Which of the ``wanted`` runs are on disk and intact.

    Temporary folders of killed runs are removed; so is a run folder whose files do not match
    the checksums in its ``meta.json`` (truncated, edited, or from an older version without
    checksums): it is re-run, not trusted. The caller holds the folder's lock
    (:class:`sim.io.folder.ResultsFolder`), so no other writer is using them.
    """
    runs = out_dir / RUNS_DIR
    if not runs.exists():
        return set()
    for tmp in runs.glob(".tmp-*"):
        shutil.rmtree(tmp, ignore_errors=True)
    intact = set()
    for key in wanted:
        folder = runs / key
        if folder.is_dir():
            if _intact(folder):
                intact.add(key)
            else:
                shutil.rmtree(folder)
    return intact


def _intact(folder: Path) -> bool:
    try:
        files = json.loads((folder / "meta.json").read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return isinstance(files, dict) and bool(files) and not mismatched(folder, files)


def load_table(out_dir: Path, keys: list[str], name: str) -> pd.DataFrame:
    """One table of every run in ``keys``, with a ``key`` column."""
    unique = list(dict.fromkeys(keys))
    parts = [pd.read_parquet(out_dir / RUNS_DIR / k / f"{name}.parquet").assign(key=k) for k in unique]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
