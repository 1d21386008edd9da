"""What this machine can hold: a run that would not fit is refused before anything is allocated."""

from __future__ import annotations

import os
from pathlib import Path

from sim.core.errors import InputError
from sim.core.model import memory_need
from sim.core.scenario import Scenario

GB = 1e9


def available_bytes() -> int:
    """Memory the kernel can give without swapping (``MemAvailable``), else physical memory."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_memory(scenario: Scenario, origin: str, agents: bool, parallel: int = 1) -> None:
    """Refuse a scenario whose runs (``parallel`` at once) would not fit in available memory."""
    need = memory_need(scenario, agents) * parallel
    have = available_bytes()
    if need > have:
        at_once = f" ({parallel} runs at once)" if parallel > 1 else ""
        raise InputError(
            f"{origin}: population.firms = {scenario.population.firms:,}: needs about {need / GB:,.1f} GB"
            f"{at_once}, this machine has {have / GB:,.1f} GB available; use fewer firms"
            + (" or fewer --workers" if parallel > 1 else "")
        )
