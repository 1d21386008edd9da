"""The budget ledger: every payment, append-only, and the rationing of demand under caps.

A lever first states its *demand* (who should get how much this year, in 万元); the budget
of that lever then decides what is *paid* when an annual cap per paying level binds, and
records the unmet demand. Only paid amounts reach the ledger and the firms.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field

from sim.core.schema import Money, Section
from sim.core.vocab import PAYING_LEVELS, TIER_IDS, PayingLevel

if TYPE_CHECKING:
    import pandas as pd

    from sim.core.streams import YearDraws

NO_TIER = -1
_NO_PAYMENTS = {
    "year": np.empty(0, np.int32),
    "firm_id": np.empty(0, np.int64),
    "lever": np.empty(0, object),
    "level": np.empty(0, np.int8),
    "tier": np.empty(0, np.int8),
    "amount_wan": np.empty(0, np.float64),
}


class Budget(Section):
    """Annual caps per paying level and the rule that rations demand above a cap."""

    caps: dict[PayingLevel, Money] = Field(default_factory=dict)
    rationing: Literal["rank", "pro_rata", "stop"] = "rank"


@dataclass
class Demand:
    """What one lever owes or offers this year, one entry per payment."""

    lever: str
    firm_id: np.ndarray
    amount: np.ndarray
    level: np.ndarray  # codes into PAYING_LEVELS
    tier: np.ndarray  # codes into TIER_IDS, NO_TIER if none
    priority: np.ndarray  # higher is paid first under "rank" rationing (after committed entries)
    committed: np.ndarray | None = None  # promised in an earlier year: paid before new demand
    rd_hire: np.ndarray | None = None  # talent grants: the grant funds an R&D hire

    def __post_init__(self) -> None:
        n = len(self.amount)
        if self.committed is None:
            self.committed = np.zeros(n, dtype=bool)
        if self.rd_hire is None:
            self.rd_hire = np.zeros(n, dtype=bool)

    @classmethod
    def empty(cls, lever: str) -> Demand:
        """No payments."""
        z = np.empty(0)
        return cls(lever, z.astype(np.int64), z, z.astype(np.int8), z.astype(np.int8), z)

    @classmethod
    def concat(cls, lever: str, parts: list[Demand]) -> Demand:
        """All entries of several demands of one lever."""
        if not parts:
            return cls.empty(lever)
        return cls(lever, *(np.concatenate([getattr(p, f) for p in parts]) for f in _FIELDS))

    def select(self, mask: np.ndarray) -> Demand:
        """The entries where ``mask`` holds."""
        return Demand(self.lever, *(getattr(self, f)[mask] for f in _FIELDS))

    def as_committed(self) -> Demand:
        """The same entries, marked as promised earlier (paid ahead of new demand)."""
        fields = {f: getattr(self, f) for f in _FIELDS}
        fields["committed"] = np.ones(len(self.amount), dtype=bool)
        return Demand(self.lever, **fields)


_FIELDS = ("firm_id", "amount", "level", "tier", "priority", "committed", "rd_hire")


@dataclass
class Commitments:
    """Payments promised for later years: instalments of awards and multi-year grants."""

    parts: list[tuple[np.ndarray, Demand, np.ndarray]] = field(default_factory=list)

    def add(self, due_year: np.ndarray, demand: Demand, review: np.ndarray) -> None:
        """Promise ``demand`` entries for ``due_year`` (``review``: paid only if it passes)."""
        if len(demand.amount):
            self.parts.append((due_year, demand, review))

    def outstanding(self) -> float:
        """Money still promised for later years (万元), e.g. after the last simulated year."""
        return float(sum(demand.amount.sum() for _, demand, _ in self.parts))

    def due(self, lever: str, year: int) -> tuple[Demand, np.ndarray]:
        """Remove and return this lever's payments due in ``year`` with their review flags."""
        taken, kept, flags = [], [], []
        for due_year, demand, review in self.parts:
            if demand.lever != lever:
                kept.append((due_year, demand, review))
                continue
            now = due_year == year
            taken.append(demand.select(now))
            flags.append(review[now])
            if (~now).any():
                kept.append((due_year[~now], demand.select(~now), review[~now]))
        self.parts = kept
        return Demand.concat(lever, taken), np.concatenate(flags) if flags else np.zeros(0, bool)


def occurrence(ids: np.ndarray) -> np.ndarray:
    """For each entry, how many earlier entries have the same id (0 for the first)."""
    ids = np.asarray(ids)
    order = np.argsort(ids, kind="stable")
    ranked = ids[order]
    starts = np.r_[0, np.flatnonzero(ranked[1:] != ranked[:-1]) + 1] if len(ids) else np.zeros(0, np.int64)
    position = np.arange(len(ids)) - np.repeat(starts, np.diff(np.r_[starts, len(ids)]))
    out = np.empty(len(ids), dtype=np.int64)
    out[order] = position
    return out


def ration(
    amount: np.ndarray,
    priority: np.ndarray,
    cap: float,
    rule: str,
    tiebreak: np.ndarray,
    committed: np.ndarray | None = None,
) -> np.ndarray:
    """Paid amounts when total demand may exceed ``cap``.

    ``committed`` entries (promised in earlier years) come first under every rule. Then ``rank``
    pays in order of priority (ties by ``tiebreak``, one uniform draw per entry) while whole
    payments fit; ``stop`` pays in random arrival order (``tiebreak``) until the money runs out;
    ``pro_rata`` scales every new payment to what is left.
    """
    total = float(amount.sum())
    if total <= cap:
        return amount.copy()
    first = np.zeros(len(amount), dtype=bool) if committed is None else committed
    if rule == "pro_rata":
        promised = float(amount[first].sum())
        if promised >= cap:
            return np.where(first, amount * (cap / promised), 0.0) if promised > 0 else np.zeros_like(amount)
        rest = (cap - promised) / (total - promised)
        return np.where(first, amount, amount * rest)
    order = np.lexsort((tiebreak, -priority, ~first)) if rule == "rank" else np.lexsort((tiebreak, ~first))
    fits = np.cumsum(amount[order]) <= cap + 1e-9
    paid = np.zeros_like(amount)
    paid[order[fits]] = amount[order[fits]]
    return paid


class Ledger:
    """Append-only record of payments and of demand left unmet by budget caps."""

    def __init__(self) -> None:
        self._payments: list[dict[str, np.ndarray]] = []
        self._budget_rows: list[dict[str, object]] = []

    def settle(self, year: int, demand: Demand, budget: Budget, draws: YearDraws) -> np.ndarray:
        """Apply the lever's caps per paying level, record what is paid, return paid amounts.

        Ties and arrival order under a binding cap are broken by a draw per firm and entry.
        """
        paid = np.zeros_like(demand.amount)
        for code, level in enumerate(PAYING_LEVELS):
            here = demand.level == code
            if not here.any():
                continue
            cap = budget.caps.get(level, np.inf)  # type: ignore[call-overload]
            if float(demand.amount[here].sum()) <= cap:
                paid[here] = demand.amount[here]
            else:
                ids = demand.firm_id[here]
                tiebreak = draws.uniform(f"ration.{demand.lever}.{level}", ids, occurrence(ids))
                paid[here] = ration(
                    demand.amount[here],
                    demand.priority[here],
                    cap,
                    budget.rationing,
                    tiebreak,
                    demand.committed[here],
                )
            asked, got = float(demand.amount[here].sum()), float(paid[here].sum())
            self._budget_rows.append(
                {
                    "year": year,
                    "lever": demand.lever,
                    "level": level,
                    "cap_wan": None if np.isinf(cap) else float(cap),
                    "demand_wan": asked,
                    "paid_wan": got,
                    "unmet_wan": asked - got,
                    "firms_unpaid": len(
                        np.unique(demand.firm_id[here][paid[here] < demand.amount[here] - 1e-9])
                    ),
                }
            )
        keep = paid > 0
        if keep.any():
            self._payments.append(
                {
                    "year": np.full(keep.sum(), year, dtype=np.int32),
                    "firm_id": demand.firm_id[keep],
                    "lever": np.full(keep.sum(), demand.lever, dtype=object),
                    "level": demand.level[keep].astype(np.int8),
                    "tier": demand.tier[keep].astype(np.int8),
                    "amount_wan": paid[keep],
                }
            )
        return paid

    def total(self) -> float:
        """Sum of every payment recorded (万元)."""
        return float(sum(p["amount_wan"].sum() for p in self._payments))

    def firm_rows(self) -> pd.DataFrame:
        """One row per payment: year, firm_id, lever, level, tier, amount_wan."""
        import pandas as pd

        cols = ("year", "firm_id", "lever", "level", "tier", "amount_wan")
        parts = self._payments or [_NO_PAYMENTS]
        data = {c: np.concatenate([p[c] for p in parts]) for c in cols}
        tiers = np.array([*TIER_IDS, None], dtype=object)  # NO_TIER (-1) indexes the last
        return pd.DataFrame(
            {
                "year": data["year"],
                "firm_id": data["firm_id"],
                "lever": data["lever"],
                "level": np.array(PAYING_LEVELS, dtype=object)[data["level"]],
                "tier": tiers[data["tier"]],
                "amount_wan": data["amount_wan"],
            }
        )

    def table(self, rows: pd.DataFrame | None = None) -> pd.DataFrame:
        """Payments aggregated by year × lever × level × tier: firms paid and amount.

        ``rows`` may pass :meth:`firm_rows` already built, so it is not built twice.
        """
        import pandas as pd  # lazy: loading a scenario needs the ledger's schema, not pandas

        if not self._payments:
            return pd.DataFrame(
                {
                    "year": pd.Series(dtype="int32"),
                    "lever": pd.Series(dtype="object"),
                    "level": pd.Series(dtype="object"),
                    "tier": pd.Series(dtype="object"),
                    "firms": pd.Series(dtype="int64"),
                    "amount_wan": pd.Series(dtype="float64"),
                }
            )
        rows = self.firm_rows() if rows is None else rows
        keys = ["year", "lever", "level", "tier"]
        grouped = rows.groupby(keys, dropna=False, sort=True)
        out = grouped.agg(firms=("firm_id", "nunique"), amount_wan=("amount_wan", "sum"))
        return out.reset_index().astype({"firms": "int64", "amount_wan": "float64"})

    def budget_table(self) -> pd.DataFrame:
        """Per year × lever × level: cap, demand, paid, unmet demand and firms left unpaid."""
        import pandas as pd

        cols = ["year", "lever", "level", "cap_wan", "demand_wan", "paid_wan", "unmet_wan", "firms_unpaid"]
        return pd.DataFrame(self._budget_rows, columns=cols)
