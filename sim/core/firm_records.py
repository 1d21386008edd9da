"""Our own firms: the columns a planner's firm file may give, their units and what they set.

``population.from_file`` replaces the synthetic draw of the initial population with the firms
of a file (one row per firm, observed at the end of the year before the first simulated year).
This module says what a file may hold — each column's unit, range and the model attribute it
sets — so the reader (:mod:`sim.io.firm_file`) can check every cell, and
:func:`sim.core.population.synthesise` can draw what a row leaves blank from the scenario's
distributions, conditional on what it gives (docs/ODD.md §5.1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from sim.core.features import VOCABULARIES
from sim.core.firms import MAX_DEBT_RATIO
from sim.core.vocab import TIER_IDS

Kind = Literal["text", "money", "positive_money", "share", "count", "year", "yes/no", "level", "number"]


@dataclass(frozen=True)
class FileColumn:
    """One column of a firm file: its unit, the values allowed and what it means."""

    name: str
    kind: Kind
    description: str
    low: float = 0.0
    high: float = float("inf")
    required: bool = False

    def allowed(self) -> str:
        """What a cell of this column may hold, in words (for the error message)."""
        if self.kind == "text":
            return "a non-empty name or code, unique in the file"
        if self.kind == "yes/no":
            return "yes/no (also true/false, 1/0, 是/否)"
        if self.kind == "level":
            return "one of " + ", ".join(VOCABULARIES[self.name])
        if self.kind == "positive_money":
            return f"万元, a number above 0 and at most {self.high:g}"
        unit = {"money": "万元", "share": "a share of 1", "count": "a whole number", "year": "a year"}
        what = unit.get(self.kind, "a number")
        return f"{what} from {self.low:g} to {self.high:g}"


MAX_WAN = 1e8  # 1万亿元: beyond any SME (the scenario schema's bound on money)
COLUMNS: tuple[FileColumn, ...] = (
    FileColumn("firm", "text", "the firm's name or code (unique)", required=True),
    FileColumn(
        "revenue",
        "positive_money",
        "operating revenue last year (营业收入), 万元",
        high=MAX_WAN,
        required=True,
    ),
    FileColumn("revenue_prev", "positive_money", "revenue the year before, 万元", high=MAX_WAN),
    FileColumn("revenue_prev2", "positive_money", "revenue two years before, 万元", high=MAX_WAN),
    FileColumn("main_share", "share", "main-business revenue ÷ revenue (主营业务收入占比)", high=1.0),
    FileColumn("rd", "money", "R&D expense last year (研发费用), 万元", high=MAX_WAN),
    FileColumn("rd_prev", "money", "R&D the year before, 万元", high=MAX_WAN),
    FileColumn("rd_prev2", "money", "R&D two years before, 万元", high=MAX_WAN),
    FileColumn("employees", "count", "employees (从业人员), persons", low=1, high=1e6),
    FileColumn("rd_staff_share", "share", "R&D staff ÷ employees", high=1.0),
    FileColumn("class1_ip", "count", "valid Class I IP (invention patents and equivalents)", high=1e6),
    FileColumn(
        "class2_ip", "count", "valid Class II IP (utility models, designs, software copyright)", high=1e6
    ),
    FileColumn("founded", "year", "year of registration", low=1900),
    FileColumn("niche_years", "count", "years in its niche market (细分市场), years", high=100),
    FileColumn("national_share", "share", "share of its national niche market", low=1e-6, high=1.0),
    FileColumn("debt_ratio", "share", "asset-liability ratio (资产负债率)", high=MAX_DEBT_RATIO),
    FileColumn("net_margin", "number", "net profit ÷ revenue (净利润率)", low=-1.0, high=1.0),
    FileColumn("equity", "money", "equity raised last year (新增股权融资), 万元", high=MAX_WAN),
    FileColumn("equity_prev", "money", "equity raised the year before, 万元", high=MAX_WAN),
    FileColumn("equity_prev2", "money", "equity raised two years before, 万元", high=MAX_WAN),
    FileColumn("rd_institution", "level", "highest R&D institution (研发机构级别)"),
    FileColumn("digital_level", "level", "digitalisation level (数字化水平)"),
    FileColumn(
        "chain_position", "level", "chain position: supplier (六基/链主配套), chain gap (补短板/锻长板)"
    ),
    FileColumn("quality_items", "count", "recognised quality-management items (质量管理水平)", high=100),
    FileColumn(
        "distinctiveness", "share", "share of the province's distinctiveness points (特色化指标)", high=1.0
    ),
    FileColumn("high_tech_revenue_share", "share", "high-tech products and services ÷ revenue", high=1.0),
    FileColumn("new_product_ratio", "share", "new-product output ratio (新产品产值率)", high=1.0),
    FileColumn("st_award_year", "year", "year of its last provincial or national S&T award", low=1900),
    FileColumn("strategic_emerging", "yes/no", "main product in a strategic emerging industry"),
    FileColumn("mgmt_cert", "yes/no", "management-system certification"),
    FileColumn("own_brand", "yes/no", "own brand"),
    FileColumn("listed", "yes/no", "listed on a stock exchange"),
    FileColumn("standard_drafted", "yes/no", "has drafted a standard"),
    *(
        FileColumn(
            f"{tier}_since",
            "year",
            f"year its current {tier} certificate started (blank: not held)",
            low=1900,
        )
        for tier in TIER_IDS
    ),
)
BY_NAME: dict[str, FileColumn] = {c.name: c for c in COLUMNS}


@dataclass
class FirmRecords:
    """A validated firm file: names in file order and every numeric column (NaN: left blank).

    Levels are codes of :data:`~sim.core.features.VOCABULARIES`, yes/no is 1/0, years are years.
    ``year`` is the year the file describes (the end of it).
    """

    names: list[str]
    values: dict[str, np.ndarray]
    year: int
    source: str = ""
    sha256: str = ""
    imputed: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.names)

    def given(self) -> dict[str, np.ndarray]:
        """Model attributes the file gives (NaN where a row left them blank), for synthesise."""
        out = {k: v for k, v in self.values.items() if not k.endswith("_since") and k != "founded"}
        if "founded" in self.values:
            out["age"] = self.year - self.values["founded"]
        if "rd" in self.values:  # a known R&D ÷ revenue is the firm's R&D propensity
            out["rd_propensity"] = np.minimum(self.values["rd"] / self.values["revenue"], 1.0)
        return out

    def since(self) -> dict[str, np.ndarray]:
        """Per tier: the year each firm's current certificate started (NaN: not held)."""
        return {tier: self.values[f"{tier}_since"] for tier in TIER_IDS if f"{tier}_since" in self.values}


# The firm-file columns each rule attribute is computed from: a value is "from the file" only
# where every one of them was given, else (part) imputed. Attributes not listed come from the
# column of their own name.
INPUTS: dict[str, tuple[str, ...]] = {
    "main_revenue": ("revenue", "main_share"),
    "main_revenue_3y_mean": ("revenue", "revenue_prev", "revenue_prev2", "main_share"),
    "growth": ("revenue", "revenue_prev"),
    "growth_2y_mean": ("revenue", "revenue_prev", "revenue_prev2"),
    "rd_intensity": ("rd", "revenue"),
    "rd_intensity_prev": ("rd_prev", "revenue_prev"),
    "rd_intensity_3y": ("rd", "rd_prev", "rd_prev2", "revenue", "revenue_prev", "revenue_prev2"),
    "rd_2y_mean": ("rd", "rd_prev"),
    "rd_2y_total": ("rd", "rd_prev"),
    "ip_level": ("class1_ip", "class2_ip", "strategic_emerging"),
    "global_share": ("national_share",),
    "margin_vs_industry": ("net_margin",),
    "equity_2y": ("equity", "equity_prev"),
    "equity_3y": ("equity", "equity_prev", "equity_prev2"),
    "st_award_age": ("st_award_year",),
    "age": ("founded",),
}


def from_file(records: FirmRecords, attrs: set[str]) -> np.ndarray:
    """Per firm: whether every firm-file column behind ``attrs`` was given (not imputed)."""
    known = np.ones(len(records), dtype=bool)
    for attr in attrs:
        for column in INPUTS.get(attr, (attr,)):
            values = records.values.get(column)
            known &= False if values is None else ~np.isnan(values)
    return known
