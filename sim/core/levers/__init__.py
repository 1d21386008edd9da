"""The policy levers, one module each, found by looking in this package.

:data:`LEVERS` maps each lever's section name (``[levers.<id>]``) to its class, in payment
order; :class:`Levers` is the ``[levers]`` schema built from them (each lever off unless its
section is present). Adding a lever is adding one module here with one
:class:`~sim.core.levers.base.Lever` subclass (plus its docs and tests): nothing else names it.
"""

from __future__ import annotations

import importlib
import pkgutil

from pydantic import create_model

from sim.core.levers.base import AWARD, FUNDS_RD, Budget, Context, Incentives, Lever
from sim.core.schema import Section

__all__ = ["AWARD", "FUNDS_RD", "LEVERS", "Budget", "Context", "Incentives", "Lever", "Levers", "with_trait"]


def _discover() -> dict[str, type[Lever]]:
    """Every Lever subclass defined in a module of this package, by id, in payment order."""
    for info in pkgutil.iter_modules(__path__):
        if info.name != "base":
            importlib.import_module(f"{__name__}.{info.name}")
    found: dict[str, type[Lever]] = {}
    stack = list(Lever.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.id in found and found[cls.id] is not cls:
            raise RuntimeError(f"two levers share the id {cls.id!r}")
        found[cls.id] = cls
    orders = [cls.order for cls in found.values()]
    if len(set(orders)) != len(orders):
        raise RuntimeError("two levers share a payment order")
    return dict(sorted(found.items(), key=lambda item: item[1].order))


LEVERS: dict[str, type[Lever]] = _discover()

Levers = create_model(
    "Levers",
    __base__=Section,
    __doc__="Every lever a city can pull; each is off unless its section is present.",
    **{lever_id: (cls.Config | None, None) for lever_id, cls in LEVERS.items()},
)


def with_trait(trait: str) -> tuple[str, ...]:
    """Ids of the levers that declare ``trait`` (e.g. :data:`AWARD`, :data:`FUNDS_RD`)."""
    return tuple(lever_id for lever_id, cls in LEVERS.items() if trait in cls.traits)
