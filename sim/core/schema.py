"""Building blocks shared by every part of a scenario's schema.

Kept apart from :mod:`sim.core.scenario` so that the lever schemas (:mod:`sim.core.levers`) and
the scenario schema can both use them without importing each other.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Plausible upper bounds, so that no input drives a value out of its dtype's range: 1e8 万元
# (1 万亿元) exceeds any SME's revenue and any city's budget; a billion exceeds any count here.
MAX_MONEY = 1e8
MAX_COUNT = 10**9
MAX_SCALE = 1e6  # a dimensionless scale or multiplier

Share = Annotated[float, Field(ge=0.0, le=1.0)]
Money = Annotated[float, Field(ge=0.0, le=MAX_MONEY)]
PositiveMoney = Annotated[float, Field(gt=0.0, le=MAX_MONEY)]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
NonNegative = Annotated[float, Field(ge=0.0, le=MAX_SCALE)]
Shape = Annotated[float, Field(gt=0.0, le=1000.0)]  # a Beta distribution's shape parameter
Year = Annotated[int, Field(ge=1990, le=2100)]
Rate = Annotated[float, Field(ge=-1.0, le=10.0)]
# A name that becomes a folder under results/: one path component (no "/", no leading dot).
FolderName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-][A-Za-z0-9._-]*$")]


class Section(BaseModel):
    """A strict, frozen block of a scenario file with optional per-key citations."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

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
    experiments find the parameters they may vary (:func:`uncertain_parameters`).
    """
    return Field(
        default=default,
        ge=lo,
        le=hi,
        json_schema_extra={"uncertain": True, "range": [lo, hi], "range_source": source},
    )


def uncertain_parameters(model: type[BaseModel], prefix: str = "") -> dict[str, dict[str, Any]]:
    """Dotted path → {range, range_source} of every uncertain parameter in a schema."""
    out: dict[str, dict[str, Any]] = {}
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        extra = info.json_schema_extra
        if isinstance(extra, dict) and extra.get("uncertain"):
            out[path] = {"range": extra["range"], "range_source": extra["range_source"]}
        for arg in (info.annotation, *getattr(info.annotation, "__args__", ())):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                out.update(uncertain_parameters(arg, f"{path}."))
    return out
