"""Sending cards out: each chat surface implements `Surface`; the router picks one per card."""

import logging
from dataclasses import dataclass, field
from typing import Protocol

from dialogs.model import Card

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    """A send failed. `retryable` with `retry_after` seconds (from a 429) when trying again may help."""

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class Surface(Protocol):
    name: str  # "playground" | "slack" | "teams"

    async def can_reach(self, card: Card) -> bool:
        """Whether this surface knows where to put the card (a stored conversation, a known person)."""
        ...

    async def deliver(self, card: Card) -> None:
        """Send or update the card; raise DeliveryError on failure. Never log case details."""
        ...


@dataclass
class Router:
    surfaces: list[Surface] = field(default_factory=list)

    def add(self, surface: Surface) -> None:
        self.surfaces.append(surface)

    def get(self, name: str) -> Surface | None:
        return next((s for s in self.surfaces if s.name == name), None)

    async def surface_for(self, card: Card, prefer: str | None = None) -> Surface | None:
        ordered = sorted(self.surfaces, key=lambda s: s.name != prefer)
        for surface in ordered:
            if await surface.can_reach(card):
                return surface
        return None

    async def deliver(self, card: Card, prefer: str | None = None) -> str:
        """Deliver through the first surface that can reach the target; returns its name."""
        surface = await self.surface_for(card, prefer)
        if surface is None:
            raise DeliveryError(f"no surface can reach {card.target.kind}", retryable=False)
        await surface.deliver(card)
        return surface.name
