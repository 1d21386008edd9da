from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "scenarios" / "economies" / "baseline.toml"


@pytest.fixture
def small_overrides() -> list[str]:
    """A small, quick version of the baseline."""
    return ["population.firms=800", "run.years=4"]
