"""The guard: case details go only where everyone present is taking part in the discussion.

Before a discussion's post or thread shows case details in a channel or group chat, every member
is checked (page by page): a guest (userRole "guest"), or anyone who is not a participant of the
discussion, means the place gets only a neutral notice and the chair is told privately why. Only this
bot is exempt: another bot (app) in the place is not taking part either.

No transaction is open while Teams is asked for the members (on SQLite a transaction holds the write
lock): the participants are read first, then the members fetched, then matched in a short transaction
of their own (matching may link a member's Teams user id to their directory entry).
"""

from dataclasses import dataclass, field

from sqlalchemy import select

from bot.teams import people
from bot.teams.conversations import Place
from bot.teams.sending import Sender
from storage.models import Participant

MAX_NAMES = 10


@dataclass
class Verdict:
    guests: list[str] = field(default_factory=list)
    uninvited: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.guests and not self.uninvited

    def why(self) -> str:
        reasons = []
        if self.guests:
            reasons.append(f"it has guests ({_names(self.guests)})")
        if self.uninvited:
            reasons.append(f"these members are not taking part: {_names(self.uninvited)}")
        return " and ".join(reasons)


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:MAX_NAMES])
    return shown + (f" and {len(names) - MAX_NAMES} more" if len(names) > MAX_NAMES else "")


async def check(db, sender: Sender, place: Place, discussion_id: int, *, bot_ids: set[str]) -> Verdict:
    """Who in the place may not see the discussion. A personal chat holds only its person.

    `bot_ids`: this bot's own ids (28:<app id>), the only members not checked.
    """
    verdict = Verdict()
    if place.is_personal:
        return verdict
    async with db.session() as session:
        query = select(Participant.person_id).where(Participant.discussion_id == discussion_id)
        taking_part = set((await session.execute(query)).scalars())
    members = await sender.members(place.base_id, where="the members of the discussion's channel")
    async with db.session() as session:
        for member in members:
            if (member.id or "") in bot_ids:
                continue
            name = member.name or "someone without a name"
            if (member.user_role or "").lower() == "guest":
                verdict.guests.append(name)
                continue
            actor = await people.resolve(
                session,
                user_id=member.id or "",
                aad_object_id=member.aad_object_id or "",
                tenant=member.tenant_id or place.tenant_id,
            )
            if actor is None or actor.person_id not in taking_part:
                verdict.uninvited.append(name)
    return verdict
