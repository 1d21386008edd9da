"""One run's results on disk: Parquet tables and the manifest.

Files are written to a temporary name and renamed, so a folder never holds a half-written
table. Data files are deterministic for a scenario and seed (the manifest records wall time
and the command, so it is the one file that differs between identical runs). Charts are drawn
by :mod:`sim.plots`; the manifest is written last by :class:`sim.io.folder.ResultsFolder`.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim import __version__
from sim.core.certification import FLOWS
from sim.core.errors import InputError
from sim.core.firms import NO_YEAR, widened
from sim.core.model import LadderModel
from sim.core.outcomes import may_be_undefined, metrics_columns
from sim.core.vocab import TIER_IDS
from sim.io.files import file_hash, rules_hash, scenario_hash


def tiers_table(model: LadderModel) -> pd.DataFrame:
    """Long table: year, tier, stock, new, renewed, removed, exited (first rows = initial state)."""
    wide = model.datacollector.get_model_vars_dataframe()
    parts = []
    for tier in TIER_IDS:
        part = pd.DataFrame(
            {
                "year": wide["year"].astype("int32"),
                "tier": tier,
                "stock": wide[f"stock.{tier}"].astype("int64"),
            }
        )
        for flow in FLOWS:
            part[flow] = wide[f"{flow}.{tier}"].astype("int64")
        parts.append(part)
    return pd.concat(parts, ignore_index=True).sort_values(["year", "tier"], kind="stable", ignore_index=True)


def metrics_table(model: LadderModel) -> pd.DataFrame:
    """Year-level aggregates: firms, revenue, R&D, R&D intensity, IP (money in 万元)."""
    wide = model.datacollector.get_model_vars_dataframe()
    out = wide[["year", *metrics_columns()]].reset_index(drop=True)
    return out.astype({"year": "int32"})


FIRMS_ROWS_PER_GROUP = 2**16  # firms.parquet row-group size: the rows converted and written at once (~75 MB)


def firms_frame(cols: dict[str, np.ndarray]) -> pd.DataFrame:
    """Final state of the firms in ``cols`` (state columns), one row each, tiers as booleans."""
    data: dict[str, Any] = {}
    for name, values in cols.items():
        if name.startswith(("since_", "expires_", "first_")) or name == "new_class1":
            continue
        data[name.removeprefix("held_")] = widened(values)
    for tier in TIER_IDS:
        first = cols[f"first_{tier}"]
        data[f"first_{tier}"] = pd.array(np.where(first == NO_YEAR, None, first), dtype="Int32")
    return pd.DataFrame(data)


def firms_table(model: LadderModel) -> pd.DataFrame:
    """Final state of every firm ever simulated, one row each (in memory at once: small runs, tests)."""
    return firms_frame(model.firms.all_firms())


def write_firms(model: LadderModel, path: Path) -> None:
    """Write ``firms.parquet`` by row groups, so a million-firm run never holds a second copy of its state.

    A run with at most :data:`FIRMS_ROWS_PER_GROUP` firms ever is one row group, the same file
    as writing the whole table at once.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    def write(tmp: Path) -> None:
        writer = None
        try:
            for cols in model.firms.every_firm(FIRMS_ROWS_PER_GROUP):
                frame = firms_frame(cols)
                check_finite(frame, path.name)
                table = pa.Table.from_pandas(frame, preserve_index=False)
                writer = writer or pq.ParquetWriter(tmp, table.schema)
                writer.write_table(table)
        except BaseException:
            if writer is not None:
                writer.close()
            tmp.unlink(missing_ok=True)
            raise
        if writer is not None:
            writer.close()

    atomic_write(path, write)


def check_finite(frame: pd.DataFrame, name: str, missing_ok: bool = False) -> None:
    """Refuse a table holding inf or NaN: a non-finite output is a model failure, not a result.

    NaN may stand for "no figure" only where that is its meaning: in every column of a summary
    table with ``missing_ok`` (no ratio where a difference is not significant), and in outcomes
    that average over firms a year may not have (:func:`~sim.core.outcomes.may_be_undefined`).
    Nullable integer columns (``first_<tier>``: never certified) hold NA by design.
    """
    undefined = may_be_undefined()
    for column in frame.columns:
        if frame[column].dtype.kind != "f":
            continue
        values = frame[column].to_numpy()
        nan_ok = missing_ok or column in undefined
        bad = int(np.isinf(values).sum() if nan_ok else (~np.isfinite(values)).sum())
        if bad:
            raise InputError(
                f"{name}: column {column} holds {'inf' if nan_ok else 'NaN or inf'} in {bad} row(s): "
                "the inputs drive the model beyond what it represents; nothing was written"
            )


def atomic_write(path: Path, write) -> None:
    """Call ``write(tmp)`` on a temporary sibling of ``path``, then rename it into place."""
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)


def write_parquet(frame: pd.DataFrame, path: Path, missing_ok: bool = False) -> None:
    """Write a Parquet file atomically, without the index; never inf, NaN only if ``missing_ok``."""
    check_finite(frame, path.name, missing_ok)
    atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False, engine="pyarrow"))


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write a table as CSV with a UTF-8 byte-order mark (Excel then shows Chinese intact), atomically.

    These are summary tables: NaN (no figure) becomes an empty cell; inf is refused.
    """
    check_finite(frame, path.name, missing_ok=True)
    atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False, encoding="utf-8-sig"))


def manifest(
    model: LadderModel, scenario_path: str, seed: int, argv: list[str], wall_seconds: float
) -> dict[str, Any]:
    """What determines the run and how it was made."""
    sc = model.scenario
    return {
        "kind": "run",
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
        "rule_sets": {
            name: {
                "title": rs.meta.title,
                "verified": rs.meta.verified,
                "in_force_from": rs.meta.in_force_from,
                "sha256": rules_hash(rs),
            }
            for name, rs in model.rule_sets.items()
        },
        "initial_tiers_placed": model.placed,
        "initial_tiers_requested": dict(sc.certification.initial),
        "package": {"name": "sme-ladder", "version": __version__},
        "python": platform.python_version(),
        "command": argv,
        "wall_seconds": round(wall_seconds, 3),
        "parameters": sc.model_dump(mode="json"),
        "spend_total_wan": round(model.policy.ledger.total(), 4),
        "committed_after_end_wan": round(model.policy.commitments.outstanding(), 4),
    }


def write_tables(model: LadderModel, out: Path, ledger_firms: bool = False) -> dict[str, pd.DataFrame | None]:
    """Write every data file of one run into ``out``; returns the tables by file name.

    ``ledger_firms`` adds ``ledger_firms.parquet`` with one row per payment. ``firms.parquet``
    is streamed to disk (:func:`write_firms`) and maps to None: its table is never whole in memory.
    """
    out.mkdir(parents=True, exist_ok=True)
    ledger = model.policy.ledger
    rows = ledger.firm_rows()
    frames: dict[str, pd.DataFrame | None] = {
        "tiers.parquet": tiers_table(model),
        "metrics.parquet": metrics_table(model),
        "firms.parquet": None,
        "ledger.parquet": ledger.table(rows),
        "budget.parquet": ledger.budget_table(),
    }
    if ledger_firms:
        frames["ledger_firms.parquet"] = rows
    for name, frame in frames.items():
        if frame is None:
            write_firms(model, out / name)
        else:
            write_parquet(frame, out / name)
    return frames


def command_line() -> list[str]:
    """The command as typed (program name shortened to its base name)."""
    return [Path(sys.argv[0]).name, *sys.argv[1:]]


def write_xlsx(sheets: dict[str, pd.DataFrame], path: Path) -> None:
    """Write tables as the sheets of one Excel workbook, atomically (summary tables: NaN is empty).

    The workbook's dates are fixed, so the same tables give the same bytes.
    """
    import datetime
    import zipfile

    from openpyxl import Workbook
    from openpyxl.utils.dataframe import dataframe_to_rows

    fixed = datetime.datetime(2000, 1, 1)
    for name, frame in sheets.items():
        check_finite(frame, f"{path.name}: sheet {name}", missing_ok=True)

    def write(tmp: Path) -> None:
        book = Workbook(write_only=True)
        book.properties.created = book.properties.modified = fixed
        for name, frame in sheets.items():
            sheet = book.create_sheet(name[:31])
            for row in dataframe_to_rows(frame.astype(object).where(frame.notna(), None), index=False):
                sheet.append(row)
        book.save(tmp)
        _fix_zip_dates(tmp, zipfile)

    atomic_write(path, write)


def _fix_zip_dates(path: Path, zipfile) -> None:
    """Rewrite a zip (an .xlsx) with fixed dates, so its bytes depend on its content only."""
    import re

    with zipfile.ZipFile(path) as src:
        entries = [(info, src.read(info)) for info in src.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info, data in entries:
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            if info.filename == "docProps/core.xml":  # openpyxl stamps the save time as "modified"
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2000-01-01T00:00:00Z", data)
            dst.writestr(fixed, data)
