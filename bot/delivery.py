"""Sending cards out: each chat surface implements `Surface`; the router picks one per card."""

import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from dialogs.model import Card, TargetKind
from dialogs.record_export import EXPORT_PLACE

log = logging.getLogger(__name__)

# Places that one surface alone serves. A card for one goes to that surface or waits for it, never to
# a chat: the export folder's card from a Teams or playground turn is not a message (those surfaces
# take any card their own turns queued).
DEDICATED = {EXPORT_PLACE: "export"}


def dedicated(card: Card) -> str | None:
    """The surface a card's place belongs to, if it belongs to one."""
    t = card.target
    return DEDICATED.get(t.place or "") if t.kind == TargetKind.CHANNEL else None


class DeliveryError(Exception):
    """A send failed. `retryable` with `retry_after` seconds (from a 429) when trying again may help."""

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class Surface(Protocol):
    """A chat surface. A surface that places cards by where the person acted also takes an `origin`
    keyword (Turn.origin, as it made it) in both methods; the router passes it only to the surface
    named in it (`origin["surface"]`)."""

    name: str  # "playground" | "slack" | "teams" | "export" (the record export folder)

    async def can_reach(self, card: Card) -> bool:
        """Whether this surface knows where to put the card (a stored conversation, a known person)."""
        ...

    async def deliver(self, card: Card) -> None:
        """Send or update the card; raise DeliveryError on failure. Never log case details."""
        ...


def surface_of(origin: dict[str, Any] | None) -> str | None:
    return (origin or {}).get("surface")


@dataclass
class Router:
    surfaces: list[Surface] = field(default_factory=list)

    def add(self, surface: Surface) -> None:
        self.surfaces.append(surface)

    def get(self, name: str) -> Surface | None:
        return next((s for s in self.surfaces if s.name == name), None)

    async def surface_for(self, card: Card, *, origin: dict[str, Any] | None = None) -> Surface | None:
        """The surface the card was queued from, if it can reach the target; else the first that can."""
        own = dedicated(card)
        if own is not None:
            surface = self.get(own)
            return surface if surface is not None and await surface.can_reach(card) else None
        prefer = surface_of(origin)
        ordered = sorted(self.surfaces, key=lambda s: s.name != prefer)
        for surface in ordered:
            mine = origin if surface.name == prefer else None
            reach = await (surface.can_reach(card, origin=mine) if mine else surface.can_reach(card))  # type: ignore[call-arg]
            if reach:
                return surface
        return None

    async def deliver(self, card: Card, *, origin: dict[str, Any] | None = None) -> str:
        """Deliver through the first surface that can reach the target; returns its name."""
        surface = await self.surface_for(card, origin=origin)
        if surface is None:
            raise DeliveryError(f"no surface can reach {card.target.kind}", retryable=False)
        await self.send(surface, card, origin)
        return surface.name

    @staticmethod
    async def send(surface: Surface, card: Card, origin: dict[str, Any] | None = None) -> None:
        if origin and surface.name == surface_of(origin):
            await surface.deliver(card, origin=origin)  # type: ignore[call-arg]
        else:
            await surface.deliver(card)
