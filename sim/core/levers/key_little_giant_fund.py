"""The key little giant fund (重点"小巨人"资金): the award schema, paid by the national level.

E.g. 600万 over 3 years, half up front and the rest after a review (财建〔2024〕148号). It
behaves as an award; its own section keeps its money apart in the ledger.
"""

from __future__ import annotations

from typing import ClassVar

from sim.core.levers.award import Award


class KeyLittleGiantFund(Award):
    """Key little giant fund (重点小巨人资金)."""

    id: ClassVar[str] = "key_little_giant_fund"
    order: ClassVar[int] = 20
    label_en: ClassVar[str] = "Key little giant fund"
    label_zh: ClassVar[str] = "重点小巨人资金"
