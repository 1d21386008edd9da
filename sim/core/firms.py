"""Firm state as columns: one NumPy array per attribute, one row per live firm.

The yearly step must be vectorised over all firms, so the model owns the columns
(:class:`FirmState`); the Mesa agent that is one firm's view of them is :mod:`sim.core.agent`.

Firms that exit are moved out of the live columns into an archive once a year, so every array
operation touches live firms only, while the final output still has one row per firm ever
simulated.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from sim.core.errors import InputError
from sim.core.vocab import TIER_IDS

NO_YEAR = -1  # sentinel for "never" in year columns
MAX_DEBT_RATIO = 1.5  # debt may exceed assets (insolvent firms); the bound keeps the AR(1) finite

# name -> dtype of every per-firm column; units and meaning in docs/ODD.md §2. Years, ages and
# small counts are int16 in memory (a year fits, and a million firms hold 26 such columns);
# output tables widen them back to int32 (:func:`widened`), the dtype they have always had.
COLUMNS: dict[str, type] = {
    "firm_id": np.int64,
    "born_year": np.int16,
    "alive": np.bool_,
    "age": np.int16,
    "revenue": np.float64,  # 营业收入, 万元
    "revenue_prev": np.float64,
    "revenue_prev2": np.float64,
    "growth_effect": np.float64,  # the firm's own persistent drift of log growth (ex-ante type)
    "main_share": np.float64,  # main-business share of revenue
    "rd": np.float64,  # 研发费用 this year, 万元
    "rd_prev": np.float64,
    "rd_prev2": np.float64,
    "rd_stock": np.float64,  # R&D capital (perpetual inventory), 万元
    "rd_propensity": np.float64,  # desired R&D intensity at the reference price
    "rd_staff_share": np.float64,
    "employees": np.int32,
    "revenue_per_employee": np.float64,
    "class1_ip": np.int64,  # Class I IP (valid invention patents etc.)
    "class2_ip": np.int64,  # Class II IP (utility models, designs, software copyright)
    "new_class1": np.int64,  # Class I IP granted this year
    "niche_years": np.int16,
    "niche_rivals": np.float64,  # rivals' sales in the firm's national niche market, 万元
    "debt_ratio": np.float64,
    "debt_mean": np.float64,
    "net_margin": np.float64,
    "margin_mean": np.float64,
    "equity": np.float64,  # equity raised this year, 万元
    "equity_prev": np.float64,
    "equity_prev2": np.float64,
    "rd_institution": np.int8,  # features.VOCABULARIES["rd_institution"]
    "digital_level": np.int8,
    "chain_position": np.int8,
    "quality_items": np.int16,
    "distinctiveness": np.float64,  # share of the province's distinctiveness points earned
    "high_tech_revenue_share": np.float64,
    "new_product_ratio": np.float64,
    "st_award_year": np.int16,  # last provincial/national S&T award, NO_YEAR if none
    "strategic_emerging": np.bool_,
    "mgmt_cert": np.bool_,
    "own_brand": np.bool_,
    "listed": np.bool_,
    "standard_drafted": np.bool_,
    # policy feedback, set by sim.levers after each year's payments:
    "liquidity_bonus": np.float64,  # cash/credit from last year's payments usable for R&D, 万元
    "rd_bonus": np.float64,  # R&D funded by last year's project grants, 万元
    "talent_active": np.int32,  # grant-funded hires paid last year
}
for _tier in TIER_IDS:
    COLUMNS[f"held_{_tier}"] = np.bool_
    COLUMNS[f"since_{_tier}"] = np.int16  # year the current certificate started
    COLUMNS[f"expires_{_tier}"] = np.int16  # year of its re-review
    COLUMNS[f"first_{_tier}"] = np.int16  # year first certified

STATE_BYTES = sum(np.dtype(t).itemsize for t in COLUMNS.values())  # one firm's row


class FirmState:
    """Columnar state of the live firms plus an archive of the firms that exited.

    Columns of one dtype live in one C-ordered block of shape (attributes, capacity): each
    column is a contiguous row of its block, of which the first ``n`` entries are the live firms.
    Blocks keep spare capacity, so the yearly turnover compacts them in place and writes
    entrants into the free tail: no full-size allocation per year (fresh memory is slow to
    touch, and two copies of the state would double the peak). Column arrays are views: fetch
    them again after :meth:`renew`.
    """

    GROWTH = 1.25  # spare capacity when a block must grow

    def __init__(self, capacity: int = 0) -> None:
        """Empty state with room for ``capacity`` live firms before any block must grow.

        Reserving the run's expected maximum up front is free in resident memory (the kernel
        maps pages when they are first written) and avoids growing a block during the run,
        when the old and the new block are both resident (at a million firms, +0.4 GB).
        """
        self.slot: dict[str, tuple[str, int]] = {}
        names: dict[str, list[str]] = {}
        for name, dtype in COLUMNS.items():
            key = np.dtype(dtype).str
            names.setdefault(key, []).append(name)
            self.slot[name] = (key, len(names[key]) - 1)
        self._names = names
        self.blocks: dict[str, np.ndarray] = {
            k: np.empty((len(v), capacity), dtype=k) for k, v in names.items()
        }
        self.n = 0
        self._archive: list[dict[str, np.ndarray]] = []

    def __getitem__(self, name: str) -> np.ndarray:
        key, j = self.slot[name]
        return self.blocks[key][j, : self.n]

    def __setitem__(self, name: str, value: np.ndarray) -> None:
        key, j = self.slot[name]
        self.blocks[key][j, : self.n] = fitting(value, key, name)

    @property
    def cols(self) -> dict[str, np.ndarray]:
        """Every column (as views), by name."""
        return {name: self[name] for name in COLUMNS}

    def append(self, new: dict[str, np.ndarray]) -> None:
        """Add firms; ``new`` must give every column (see :func:`blank`)."""
        self.turnover(new)

    def turnover(self, new: dict[str, np.ndarray] | None) -> np.ndarray:
        """Archive the exited firms and append ``new`` ones; return the exited firms' ids.

        Live rows keep their order (so seeded draws meet the same firms as before).
        """
        if new is not None and (missing := set(COLUMNS) - set(new)):
            raise ValueError(f"new firms lack columns {sorted(missing)}")
        if new is not None and self.n and len(new["firm_id"]) and new["firm_id"][0] <= self["firm_id"][-1]:
            raise ValueError("new firms need ids above every live firm's (rows stay sorted by id)")
        alive = self["alive"]
        gone = np.empty(0, dtype=np.int64)
        kept = self.n
        if not alive.all():
            keep, dead = np.flatnonzero(alive), np.flatnonzero(~alive)
            # Fancy indexing gathers the dead columns of the block in one pass; ``np.take(..., axis=1)``
            # on the non-contiguous live view copied the whole block first (about 13× slower).
            self._archive.append({k: b[:, : self.n][:, dead] for k, b in self.blocks.items()})
            key, j = self.slot["firm_id"]
            gone = self._archive[-1][key][j]
            kept = len(keep)
            for block in self.blocks.values():
                for row in block:
                    row[:kept] = row[: self.n].take(keep)
        added = 0 if new is None else len(new["firm_id"])
        for key, names in self._names.items():
            block = self.blocks[key]
            if kept + added > block.shape[1]:
                grown = np.empty((block.shape[0], int(self.GROWTH * (kept + added)) + 16), dtype=key)
                grown[:, :kept] = block[:, :kept]
                self.blocks[key] = block = grown
            if added:
                for j, name in enumerate(names):
                    block[j, kept : kept + added] = fitting(new[name], key, name)
        self.n = kept + added
        return gone

    def rows_of(self, ids: np.ndarray) -> np.ndarray:
        """Live row of each firm id, −1 for a firm that is not live.

        Ids of live firms are increasing down the rows (entrants get larger ids than anyone
        before them and turnover keeps the order), so a binary search finds them.
        """
        ids = np.asarray(ids, dtype=np.int64)
        live = self["firm_id"]
        pos = np.searchsorted(live, ids)
        inside = pos < self.n
        found = np.zeros(len(ids), dtype=bool)
        found[inside] = live[pos[inside]] == ids[inside]
        return np.where(found, pos, -1)

    def all_firms(self) -> dict[str, np.ndarray]:
        """Every firm ever simulated (live and archived), sorted by firm id."""
        key = self.slot["firm_id"][0]
        total = self.n + sum(part[key].shape[1] for part in self._archive)
        for whole in self.every_firm(max(total, 1)):
            return whole
        return {name: np.empty(0, dtype=k) for name, (k, _) in self.slot.items()}

    def every_firm(self, rows_per_chunk: int) -> Iterator[dict[str, np.ndarray]]:
        """Every firm ever simulated, sorted by firm id, in chunks of ``rows_per_chunk`` rows.

        One argsort of the ids, then each chunk gathers its rows column by column straight from
        the archive and the live block: memory beyond the state is one chunk, not a sorted copy
        of every column (at a million firms that copy doubled the peak of writing the results).
        """
        parts = [*self._archive, {k: b[:, : self.n] for k, b in self.blocks.items()}]
        key, j = self.slot["firm_id"]
        order = np.argsort(np.concatenate([part[key][j] for part in parts]), kind="stable")
        bounds = np.cumsum([0, *(part[key].shape[1] for part in parts)])
        for start in range(0, len(order), rows_per_chunk):
            pos = order[start : start + rows_per_chunk]
            which = np.searchsorted(bounds, pos, side="right") - 1
            picks = []  # (rows of the chunk, their positions in the part) per part
            for i, part in enumerate(parts):
                at = np.flatnonzero(which == i)
                if len(at):
                    picks.append((part, at, pos[at] - bounds[i]))
            chunk = {}
            for name, (k, i) in self.slot.items():
                out = chunk[name] = np.empty(len(pos), dtype=k)
                for part, at, src in picks:
                    out[at] = part[k][i][src]
            yield chunk


def fitting(value: np.ndarray | int | float, dtype: str, name: str) -> np.ndarray | int | float:
    """``value`` if it fits an integer column of ``dtype``; else a loud error, never a wrap-around.

    NumPy casts a float or a wider integer into an integer column silently, so ``employees``
    would become −2147483648 when extreme inputs drive revenue out of range.
    """
    kind = np.dtype(dtype)
    arr = np.asarray(value)
    if kind.kind not in "iu" or arr.dtype == kind or arr.dtype.kind == "b" or not arr.size:
        return value
    info = np.iinfo(kind)
    low, high = arr.min(), arr.max()
    if not (np.isfinite(low) and np.isfinite(high) and info.min <= low and high <= info.max):
        raise InputError(
            f"firm attribute {name} left its range ({low:g} to {high:g}; {kind} holds {info.min} to "
            f"{info.max}): the scenario's inputs drive the model beyond what it represents"
        )
    return value


def widened(values: np.ndarray) -> np.ndarray:
    """An int16 state column as int32 for an output table; any other column as it is."""
    return values.astype(np.int32) if values.dtype == np.int16 else values


def blank(ids: np.ndarray, year: int) -> dict[str, np.ndarray]:
    """Columns for new firms ``ids`` with neutral values, to be filled in by the caller."""
    n = len(ids)
    out = {k: np.zeros(n, dtype=t) for k, t in COLUMNS.items()}
    out["firm_id"] = np.asarray(ids, dtype=np.int64)
    out["born_year"][:] = year
    out["alive"][:] = True
    out["st_award_year"][:] = NO_YEAR
    for tier in TIER_IDS:
        for prefix in ("since_", "expires_", "first_"):
            out[prefix + tier][:] = NO_YEAR
    return out
