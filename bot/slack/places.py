"""Who may see a discussion in Slack, read once per delivery, and the council's configured places."""

from dataclasses import dataclass, field

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select

from bot.config import Settings
from bot.delivery import DeliveryError
from bot.slack.client import Identity
from bot.slack.people import People
from bot.slack.stored import CONFIRMED, PLATFORM
from storage.db import Database
from storage.models import ConversationRef, Discussion, Participant, Person, PersonIdentity


@dataclass
class Place:
    """A discussion and who may see it, read once per delivery."""

    discussion: Discussion
    chair: Person
    people: list[Person]  # the chair and every participant: all may see the discussion
    declined: set[int] = field(default_factory=set)  # person ids not to add to its channel
    slack_ids: dict[int, str] = field(default_factory=dict)  # person id -> Slack user id
    confirmed: set[str] = field(default_factory=set)

    @property
    def allowed(self) -> set[str]:
        return set(self.slack_ids.values())

    @property
    def chair_user(self) -> str | None:
        """The chair's Slack id, if they are in Slack."""
        return self.slack_ids.get(self.chair.id)


async def load_place(
    db: Database, people: People, discussion_id: int, client: AsyncWebClient, me: Identity
) -> Place:
    """The discussion, its people with their Slack ids in this workspace (looked up by email where
    not yet known) and the external professionals its chair vouched for here."""
    async with db.session() as s:
        d = await s.get(Discussion, discussion_id)
        if d is None:
            raise DeliveryError(f"slack: no discussion {discussion_id}", retryable=False)
        chair = await s.get(Person, d.chair_id)
        rows = (
            await s.execute(
                select(Person, Participant.status)
                .join(Participant, Participant.person_id == Person.id)
                .where(Participant.discussion_id == discussion_id)
            )
        ).all()
        everyone = {p.id: p for p, _status in rows}
        everyone[chair.id] = chair
        declined = {p.id for p, status in rows if status == "declined"}
        ids = await s.execute(
            select(PersonIdentity).where(
                PersonIdentity.person_id.in_(list(everyone)),
                PersonIdentity.platform == PLATFORM,
                PersonIdentity.tenant.in_({me.team_id, me.enterprise_id or "", ""}),
            )
        )
        slack_ids = {i.person_id: i.external_id for i in ids.scalars()}
        confirmed = await s.execute(
            select(ConversationRef.reference).where(
                ConversationRef.platform == PLATFORM,
                ConversationRef.kind == CONFIRMED,
                ConversationRef.discussion_id == discussion_id,
            )
        )
        vouched = {r.get("user") for r in confirmed.scalars() if r.get("team") == me.tenant}
    place = Place(d, chair, list(everyone.values()), declined, slack_ids, {u for u in vouched if u})
    for person in place.people:  # people known only by email: find them in Slack once
        if person.id not in place.slack_ids:
            user = await people.lookup(client, me, person)
            if user:
                place.slack_ids[person.id] = user
    return place


def team_channel(settings: Settings, place: str | None) -> str | None:
    """The configured duty or out-of-hours channel (out of hours falls back to duty)."""
    return {
        "duty": settings.slack_duty_channel,
        "out_of_hours": settings.slack_out_of_hours_channel or settings.slack_duty_channel,
    }.get(place or "")
