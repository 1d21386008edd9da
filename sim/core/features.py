"""Firm attributes as the certification rules see them.

Rules name attributes (``rd_intensity``, ``niche_years``, ``ip_level`` ...); this module
defines each one once, as a vectorised function of the firm state, so rule files stay pure
data and the formulas live in one place. Values are computed lazily and cached, over all live
firms or over a subset of rows (the applicants of one tier).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sim.core.firms import NO_YEAR, FirmState

# Ordered vocabularies of categorical attributes; rule files name the levels, code compares codes.
VOCABULARIES: dict[str, tuple[str, ...]] = {
    "rd_institution": ("none", "lower", "city", "provincial", "national"),
    "ip_level": ("none", "class2", "class1", "class1_self", "class1_high_value"),
    "digital_level": ("none", "L1", "L2", "L3"),
    "chain_position": ("none", "supplier", "chain_gap"),
}


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with 0 where the denominator is not positive."""
    out = np.zeros_like(num, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


class Features:
    """Lazily computed rule attributes of the firms in ``rows`` (all live firms if None)."""

    def __init__(
        self,
        state: FirmState,
        year: int,
        global_market_multiple: float,
        rows: np.ndarray | None = None,
    ) -> None:
        self.state = state
        self.year = year
        self.global_market_multiple = global_market_multiple
        self.rows = rows
        self._cache: dict[str, np.ndarray] = {}
        self._scalars: dict[str, float] = {}

    def subset(self, rows: np.ndarray) -> Features:
        """A view of ``rows`` (indices into this view) that reuses this view's computed values."""
        return _Subset(self, rows)

    def __len__(self) -> int:
        return self.state.n if self.rows is None else len(self.rows)

    def col(self, name: str) -> np.ndarray:
        """A raw state column restricted to this view's rows."""
        data = self.state[name]
        return data if self.rows is None else data[self.rows]

    def overall_margin(self) -> float:
        """Profit ÷ revenue of all firms in view (0 without revenue), computed once."""
        if "overall_margin" not in self._scalars:
            rev, margin = self.col("revenue"), self.col("net_margin")
            total = float(rev.sum())
            # NumPy's own sum, not np.dot: BLAS splits a long dot product over its threads, so
            # the last bits depended on the machine's core count (and a threaded dot of 20,000
            # firms cost up to 20 ms on a loaded machine against 10 µs for this).
            profit = float(np.multiply(margin, rev).sum())
            self._scalars["overall_margin"] = profit / total if total > 0 else 0.0
        return self._scalars["overall_margin"]

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._cache:
            if name in DERIVED:
                self._cache[name] = DERIVED[name](self)
            elif name in RAW:
                self._cache[name] = self.col(name)
            else:
                raise KeyError(f"unknown firm attribute {name!r}")
        return self._cache[name]


class _Subset(Features):
    """Rows of a parent view (one tier's applicants).

    Attributes are computed on these rows only: the applicants of a tier are a small share of
    the firms, and a firm's values are the same element by element as computing on every firm
    and gathering. What compares a firm with all firms (:meth:`overall_margin`) comes from the
    parent, computed once a year.
    """

    def __init__(self, parent: Features, rows: np.ndarray) -> None:
        super().__init__(parent.state, parent.year, parent.global_market_multiple, rows)
        self.parent = parent

    def col(self, name: str) -> np.ndarray:
        return self.parent.col(name)[self.rows]

    def overall_margin(self) -> float:
        return self.parent.overall_margin()


def _growth(f: Features) -> np.ndarray:
    return _ratio(f.col("revenue"), f.col("revenue_prev")) - 1.0


def _growth_prev(f: Features) -> np.ndarray:
    return _ratio(f.col("revenue_prev"), f.col("revenue_prev2")) - 1.0


def _ip_level(f: Features) -> np.ndarray:
    """IP class of innovative-SME/SRDI scoring (MIIT 2022 annex 1-2).

    All Class I IP in the model comes from the firm's own R&D (knowledge production), so it is
    self-developed; it counts as high-value when the firm is in a strategic emerging industry
    (one of the official high-value invention patent categories, CNIPA 2021 statistics note).
    """
    code = VOCABULARIES["ip_level"].index
    c1 = f.col("class1_ip") > 0
    c2 = f.col("class2_ip") > 0
    level = np.where(c2, code("class2"), code("none"))
    level = np.where(c1, code("class1_self"), level)
    return np.where(c1 & f.col("strategic_emerging"), code("class1_high_value"), level).astype(np.int8)


def _margin_vs_industry(f: Features) -> np.ndarray:
    """Net margin minus the overall margin of all firms (profit ÷ revenue of the whole).

    "利润率超过同期同行业企业的总体水平": the economy stands for the industry (model proxy: one
    industry). The overall margin is one number over all live firms (:meth:`Features.overall_margin`);
    an applicant's difference is computed on its own row.
    """
    return f.col("net_margin") - f.overall_margin()


def _st_award_age(f: Features) -> np.ndarray:
    """Years since the firm's last provincial/national S&T award (infinite if it never had one).

    Rules state the window themselves (e.g. "in the last 3 years": ``st_award_age < 3``).
    """
    last = f.col("st_award_year")
    return np.where(last == NO_YEAR, np.inf, f.year - last.astype(np.float64))


DERIVED: dict[str, Callable[[Features], np.ndarray]] = {
    "main_revenue": lambda f: f.col("revenue") * f.col("main_share"),
    "main_revenue_3y_mean": lambda f: (
        ((f.col("revenue") + f.col("revenue_prev") + f.col("revenue_prev2")) / 3.0) * f.col("main_share")
    ),
    "growth": _growth,
    "growth_2y_mean": lambda f: 0.5 * (f["growth"] + _growth_prev(f)),
    "rd_intensity": lambda f: _ratio(f.col("rd"), f.col("revenue")),
    "rd_intensity_prev": lambda f: _ratio(f.col("rd_prev"), f.col("revenue_prev")),
    "rd_intensity_3y": lambda f: _ratio(
        f.col("rd") + f.col("rd_prev") + f.col("rd_prev2"),
        f.col("revenue") + f.col("revenue_prev") + f.col("revenue_prev2"),
    ),
    "rd_2y_mean": lambda f: 0.5 * (f.col("rd") + f.col("rd_prev")),
    "rd_2y_total": lambda f: f.col("rd") + f.col("rd_prev"),
    "ip_level": _ip_level,
    "national_share": lambda f: _ratio(f["main_revenue"], f["main_revenue"] + f.col("niche_rivals")),
    "global_share": lambda f: f["national_share"] / f.global_market_multiple,
    "equity_2y": lambda f: f.col("equity") + f.col("equity_prev"),
    "equity_3y": lambda f: f.col("equity") + f.col("equity_prev") + f.col("equity_prev2"),
    "st_award_age": _st_award_age,
    "margin_vs_industry": _margin_vs_industry,
}

RAW: frozenset[str] = frozenset(
    {
        "revenue",
        "revenue_prev",
        "main_share",
        "rd",
        "rd_prev",
        "rd_staff_share",
        "employees",
        "class1_ip",
        "class2_ip",
        "niche_years",
        "debt_ratio",
        "net_margin",
        "rd_institution",
        "strategic_emerging",
        "listed",
        "mgmt_cert",
        "own_brand",
        "standard_drafted",
        "quality_items",
        "digital_level",
        "chain_position",
        "distinctiveness",
        "high_tech_revenue_share",
        "new_product_ratio",
        "age",
    }
)

ATTRIBUTES: frozenset[str] = RAW | frozenset(DERIVED)

# What each attribute is and its unit, for the cultivation lists (a gap is stated in the
# attribute's unit). Units: 万元, share (of 1, shown as %), count, years, persons, level (of
# VOCABULARIES), yes/no. ``per`` gives, for a share of revenue, the 万元 it is a share of, so a
# gap in a share is also stated in 万元 ("R&D 2.7 % of revenue, needs 3.0 %: +36万").
DESCRIPTIONS: dict[str, tuple[str, str]] = {
    "revenue": ("revenue", "万元"),
    "revenue_prev": ("revenue a year back", "万元"),
    "main_share": ("main-business share of revenue", "share"),
    "main_revenue": ("main-business revenue", "万元"),
    "main_revenue_3y_mean": ("3-year mean main-business revenue", "万元"),
    "growth": ("revenue growth", "share"),
    "growth_2y_mean": ("2-year mean revenue growth", "share"),
    "rd": ("R&D", "万元"),
    "rd_prev": ("R&D a year back", "万元"),
    "rd_intensity": ("R&D share of revenue", "share"),
    "rd_intensity_prev": ("R&D share of revenue a year back", "share"),
    "rd_intensity_3y": ("3-year R&D share of revenue", "share"),
    "rd_2y_mean": ("2-year mean R&D", "万元"),
    "rd_2y_total": ("2-year R&D", "万元"),
    "rd_staff_share": ("R&D staff share", "share"),
    "employees": ("employees", "persons"),
    "class1_ip": ("Class I IP (invention patents)", "count"),
    "class2_ip": ("Class II IP", "count"),
    "ip_level": ("IP class", "level"),
    "niche_years": ("years in the niche market", "years"),
    "national_share": ("national niche market share", "share"),
    "global_share": ("global niche market share", "share"),
    "debt_ratio": ("debt ratio", "share"),
    "net_margin": ("net margin", "share"),
    "margin_vs_industry": ("net margin above the industry's", "share"),
    "equity_2y": ("equity raised in 2 years", "万元"),
    "equity_3y": ("equity raised in 3 years", "万元"),
    "rd_institution": ("R&D institution", "level"),
    "digital_level": ("digitalisation level", "level"),
    "chain_position": ("chain position", "level"),
    "quality_items": ("quality items", "count"),
    "distinctiveness": ("distinctiveness points share", "share"),
    "high_tech_revenue_share": ("high-tech revenue share", "share"),
    "new_product_ratio": ("new-product output ratio", "share"),
    "st_award_age": ("years since an S&T award", "years"),
    "strategic_emerging": ("strategic emerging industry", "yes/no"),
    "mgmt_cert": ("management-system certification", "yes/no"),
    "own_brand": ("own brand", "yes/no"),
    "listed": ("listed", "yes/no"),
    "standard_drafted": ("drafted a standard", "yes/no"),
    "age": ("years since registration", "years"),
}
PER: dict[str, str] = {
    "rd_intensity": "revenue",
    "rd_intensity_prev": "revenue_prev",
    "main_share": "revenue",
    "high_tech_revenue_share": "revenue",
}
