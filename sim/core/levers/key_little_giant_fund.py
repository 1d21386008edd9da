"""The key little giant fund (重点"小巨人"资金): the award schema, paid by the national level.

E.g. 600万 over 3 years, half up front and the rest after a review (财建〔2024〕148号). It
behaves as an award; its own section keeps its money apart in the ledger.
"""

from __future__ import annotations

from sim.core.levers.award import Award, AwardConfig
from sim.core.levers.base import AWARD


class KeyLittleGiantFund(Award, id="key_little_giant_fund", order=20, config=AwardConfig, traits={AWARD}):
    """Key little giant fund (重点小巨人资金)."""

    label_en = "Key little giant fund"
    label_zh = "重点小巨人资金"
