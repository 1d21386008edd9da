"""The ladder's fixed vocabulary: tier ids and paying levels of government.

Every module names tiers and levels by these ids; rule sets, levers and outputs are checked
against them. Kept in one module so that a literal type and its allowed values have one home.
"""

from __future__ import annotations

from typing import Literal

TIER_IDS = (
    "high_tech",
    "innovative",
    "srdi",
    "hidden_champion",
    "little_giant",
    "key_little_giant",
    "single_champion",
)
PAYING_LEVELS = ("national", "provincial", "city", "county")
PAYING_LEVEL_NAMES_ZH = {"national": "国家", "provincial": "省", "city": "市", "county": "县(市、区)"}

# One source of truth: the literals are built from the tuples (subscripting with a tuple spreads it).
TierId = Literal[TIER_IDS]  # type: ignore[valid-type]
PayingLevel = Literal[PAYING_LEVELS]  # type: ignore[valid-type]
