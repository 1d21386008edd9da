"""The Mesa agent that is one firm's view of the columnar state.

A :class:`Firm` is a ``mesa.Agent`` holding only its id; reading ``firm.revenue`` looks the
value up in the model's columns (:mod:`sim.core.firms`), so ``model.agents`` stays the
per-firm interface without a Python loop in the hot path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import mesa
import numpy as np

from sim.core.firms import COLUMNS
from sim.core.vocab import TIER_IDS

if TYPE_CHECKING:
    from sim.core.model import LadderModel


class Firm(mesa.Agent):
    """An SME (中小企业): a Mesa agent whose attributes live in the model's columns.

    ``firm.revenue``, ``firm.held_srdi`` etc. read the firm's row; ``firm.tiers`` lists the tiers
    it holds. Behaviour is vectorised in :mod:`sim.dynamics`, so agents have no ``step``.
    """

    model: LadderModel

    def __init__(self, model: LadderModel, firm_id: int) -> None:
        super().__init__(model)
        self.firm_id = int(firm_id)

    def _row(self) -> int:
        row = int(self.model.firms.rows_of(np.array([self.firm_id]))[0])
        if row < 0:
            raise LookupError(f"firm {self.firm_id} has exited")
        return row

    def __getattr__(self, name: str) -> Any:
        if name in COLUMNS:
            return self.model.firms[name][self._row()].item()
        raise AttributeError(name)

    @property
    def tiers(self) -> list[str]:
        """Tier ids the firm holds now."""
        row = self._row()
        return [t for t in TIER_IDS if self.model.firms[f"held_{t}"][row]]
