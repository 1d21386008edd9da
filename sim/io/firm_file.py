"""Reading a planner's firm file (CSV or Excel) into validated :class:`FirmRecords`.

Every cell is checked against its column (:data:`sim.core.firm_records.COLUMNS`): its unit, its
range, a certificate's start within its validity. A file with errors is refused whole, with one
message listing every error — row (as the spreadsheet numbers it: the header is row 1), column,
value and what is allowed — so a planner fixes them in one pass, and nothing is run on a partly
read file.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pandas as pd

from sim.core.errors import InputError
from sim.core.features import VOCABULARIES
from sim.core.firm_records import BY_NAME, COLUMNS, FileColumn, FirmRecords
from sim.core.rules import RuleSet
from sim.core.scenario import Scenario

YES = {"yes", "y", "true", "1", "是", "有"}
NO = {"no", "n", "false", "0", "否", "无"}
EXCEL = (".xlsx", ".xlsm")


def read_cells(path: Path) -> pd.DataFrame:
    """The file's cells as text ("" where blank), columns as headed; unreadable files are one line."""
    if not path.is_file():
        raise InputError(f"{path}: firm file not found")
    try:
        if path.suffix.lower() in EXCEL:
            frame = pd.read_excel(path, dtype=object, header=0)
        elif path.suffix.lower() == ".csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        else:
            raise InputError(
                f"{path}: a firm file is .csv (UTF-8) or .xlsx; got {path.suffix or 'no suffix'}"
            )
    except (UnicodeDecodeError, ValueError, OSError) as exc:
        raise InputError(f"{path}: cannot read the firm file ({exc})") from None
    return frame.map(_text).astype(str)


def _text(cell: object) -> str:
    if cell is None or (isinstance(cell, float) and math.isnan(cell)):
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell).strip()


def parse_cell(column: FileColumn, text: str, low: float | None = None, high: float | None = None) -> float:
    """A cell's value (level code, 1/0 for yes/no); ``ValueError`` if it is not allowed."""
    if column.kind == "yes/no":
        if text.lower() in YES:
            return 1.0
        if text.lower() in NO:
            return 0.0
        raise ValueError
    if column.kind == "level":
        levels = VOCABULARIES[column.name]
        if text not in levels:
            raise ValueError
        return float(levels.index(text))
    value = float(text)
    if not math.isfinite(value):
        raise ValueError
    lo = column.low if low is None else low
    hi = column.high if high is None else high
    if column.kind == "positive_money" and value <= 0 or value < lo or value > hi:
        raise ValueError
    if column.kind in ("count", "year") and not value.is_integer():
        raise ValueError
    return value


def load_firm_file(path: str | Path, year: int, rules: RuleSet) -> FirmRecords:
    """Validate a firm file describing the end of ``year`` under ``rules`` (certificate validity)."""
    path = Path(path)
    cells = read_cells(path)
    errors: list[str] = []
    headers = [str(c).strip() for c in cells.columns]
    unknown = [h for h in headers if h not in BY_NAME]
    if unknown:
        errors.append(
            f"column(s) {', '.join(repr(h) for h in unknown)} unknown; allowed: {', '.join(BY_NAME)}"
        )
    twice = sorted({h for h in headers if headers.count(h) > 1})
    if twice:
        errors.append(f"column(s) {', '.join(twice)} appear more than once")
    missing = [c.name for c in COLUMNS if c.required and c.name not in headers]
    if missing:
        errors.append(f"required column(s) {', '.join(missing)} missing")
    if cells.empty and not errors:
        errors.append("no firms (the file has a header but no rows)")
    if errors:
        raise _refused(path, errors)
    cells.columns = headers
    values: dict[str, np.ndarray] = {}
    names = list(cells["firm"])
    seen: dict[str, int] = {}
    for k, name in enumerate(names):
        row = k + 2  # as the spreadsheet numbers it: the header is row 1
        if not name:
            errors.append(f"row {row}, column firm: blank; allowed: {BY_NAME['firm'].allowed()}")
        elif name in seen:
            errors.append(f"row {row}, column firm: {name!r} repeats row {seen[name]}; names are unique")
        else:
            seen[name] = row
    for header in headers:
        column = BY_NAME[header]
        if column.kind == "text":
            continue
        low, high = _bounds(column, year, rules)
        out = np.full(len(cells), np.nan)
        for k, text in enumerate(cells[header]):
            if text == "" and not column.required:
                continue
            try:
                out[k] = parse_cell(column, text, low, high)
            except ValueError:
                allowed = column.allowed() if low is None else _year_range(column, low, high)
                shown = repr(text) if text else "blank"
                errors.append(f"row {k + 2}, column {header}: {shown}; allowed: {allowed}")
        values[header] = out
    if errors:
        raise _refused(path, errors)
    imputed = {
        c.name: int(np.isnan(values[c.name]).sum()) if c.name in values else len(names) for c in COLUMNS
    }
    imputed = {name: n for name, n in imputed.items() if n and name != "firm" and not name.endswith("_since")}
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return FirmRecords(names, values, year, str(path), digest, imputed)


def _bounds(column: FileColumn, year: int, rules: RuleSet) -> tuple[float | None, float | None]:
    """Year columns end at the file's year; a certificate's start lies within its validity."""
    if column.kind != "year":
        return None, None
    if column.name.endswith("_since"):
        tier = column.name.removesuffix("_since")
        return float(year - rules.tiers[tier].validity_years + 1), float(year)
    return column.low, float(year)


def _year_range(column: FileColumn, low: float, high: float) -> str:
    if column.name.endswith("_since"):
        return (
            f"a year from {low:g} to {high:g} (a certificate runs {int(high - low) + 1} years: "
            "an older one has been re-reviewed since, give the year of its last review), or blank if not held"
        )
    return f"a year from {low:g} to {high:g}"


def _refused(path: Path, errors: list[str]) -> InputError:
    head = f"{path}: {len(errors)} error(s) in the firm file; nothing was run"
    return InputError("\n  ".join([head, *errors]))


_CACHE: dict[tuple, FirmRecords] = {}


def firms_of(scenario: Scenario, rules: RuleSet) -> FirmRecords | None:
    """The firms of a scenario's ``population.from_file`` (None for a synthetic population).

    ``rules`` are the rules in force at the start (their validity bounds the certificates'
    start years). A batch worker reads each file once (until the file changes).
    """
    name = scenario.population.from_file
    if name is None:
        return None
    path = Path(name)
    stamp = (path.stat().st_mtime_ns, path.stat().st_size) if path.is_file() else (0, 0)
    key = (str(path), stamp, scenario.run.start_year - 1, rules.meta.id)
    if key not in _CACHE:
        _CACHE[key] = load_firm_file(path, scenario.run.start_year - 1, rules)
    return _CACHE[key]
