"""Building blocks shared by every part of a scenario's schema.

Kept apart from :mod:`sim.scenario` so that the lever schema (:mod:`sim.lever_config`) and the
scenario schema can both use them without importing each other.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

Share = Annotated[float, Field(ge=0.0, le=1.0)]
Money = Annotated[float, Field(ge=0.0)]
PositiveMoney = Annotated[float, Field(gt=0.0)]
Count = Annotated[int, Field(ge=0)]
NonNegative = Annotated[float, Field(ge=0.0)]
Rate = Annotated[float, Field(ge=-1.0, le=10.0)]

TIER_IDS = (
    "high_tech",
    "innovative",
    "srdi",
    "hidden_champion",
    "little_giant",
    "key_little_giant",
    "single_champion",
)


class ScenarioError(Exception):
    """Bad scenario input; its message is the one line the user sees."""


class Section(BaseModel):
    """A strict, frozen block of a scenario file with optional per-key citations."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sources: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _sources_name_keys(self) -> Section:
        unknown = set(self.sources) - set(type(self).model_fields)
        if unknown:
            raise ValueError(f"sources cite unknown key(s) {sorted(unknown)}")
        return self


def uncertain(lo: float, hi: float, source: str, default: Any = ...) -> Any:
    """A behavioural parameter: bounded by its plausible range, flagged for experiments.

    The range and its source are stored in the JSON schema (``uncertain: true``), which is how
    experiments find the parameters they may vary (``lever_config.uncertain_parameters``).
    """
    return Field(
        default=default,
        ge=lo,
        le=hi,
        json_schema_extra={"uncertain": True, "range": [lo, hi], "range_source": source},
    )
