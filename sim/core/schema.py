"""Building blocks shared by every part of a scenario's schema.

Kept apart from :mod:`sim.core.scenario` so that the lever schemas (:mod:`sim.core.levers`) and
the scenario schema can both use them without importing each other.
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
