"""The guard: case details go only into a channel where everyone may see them.

Before posting a discussion's details, every member of the channel is checked. Guests
(`is_restricted`, `is_ultra_restricted`) never may; other apps' bots may not (they can read the
channel); people from other organisations (Slack Connect) may only when they are participants or the
chair confirmed them as invited professionals; anyone else must be a participant. When someone fails,
the surface posts only a neutral notice and tells the chair privately why.
"""

import time
from dataclasses import dataclass, field
from enum import StrEnum

from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.client import Identity, call

USER_INFO_TTL = 300.0  # seconds a member's profile is trusted before it is read again


class Reason(StrEnum):
    GUEST = "guest"
    EXTERNAL = "external"  # another organisation, through Slack Connect
    APP = "app"  # another app's bot user
    NOT_INVITED = "not_invited"


REASON_TEXT = {
    Reason.GUEST: "a guest account",
    Reason.EXTERNAL: "from another organisation and not invited",
    Reason.APP: "another app, which can read the channel",
    Reason.NOT_INVITED: "not invited to this discussion",
}


@dataclass(frozen=True)
class Blocked:
    user_id: str
    reason: Reason

    @property
    def confirmable(self) -> bool:
        """Only an external professional can be vouched for by the chair; guests and apps cannot."""
        return self.reason == Reason.EXTERNAL


@dataclass(frozen=True)
class Verdict:
    channel: str
    blocked: tuple[Blocked, ...] = ()

    @property
    def safe(self) -> bool:
        return not self.blocked


@dataclass
class Guard:
    """Checks channel members; caches profiles briefly (membership itself is read every time)."""

    ttl: float = USER_INFO_TTL
    _users: dict[str, tuple[float, dict]] = field(default_factory=dict)

    async def user(self, client: AsyncWebClient, user_id: str) -> dict:
        cached = self._users.get(user_id)
        if cached and time.monotonic() - cached[0] < self.ttl:
            return cached[1]
        info = (await call(client, "users.info", user=user_id)).get("user") or {}
        self._users[user_id] = (time.monotonic(), info)
        return info

    async def members(self, client: AsyncWebClient, channel: str) -> list[str]:
        members: list[str] = []
        cursor = None
        while True:
            page = await call(client, "conversations.members", channel=channel, limit=200, cursor=cursor)
            members += page.get("members") or []
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return members

    async def check(
        self,
        client: AsyncWebClient,
        me: Identity,
        channel: str,
        *,
        allowed: set[str] | None,
        confirmed: set[str] = frozenset(),
    ) -> Verdict:
        """`allowed`: Slack ids of the discussion's participants; None for a configured team place,
        where membership is the council's business but guests, apps and outsiders still block."""
        blocked = []
        for user_id in await self.members(client, channel):
            if user_id == me.bot_user_id:
                continue
            reason = classify(await self.user(client, user_id), me, allowed, confirmed)
            if reason is not None:
                blocked.append(Blocked(user_id, reason))
        return Verdict(channel, tuple(blocked))


def is_external(user: dict, me: Identity) -> bool:
    if user.get("is_stranger"):
        return True
    team = user.get("team_id")
    if not team or team == me.team_id:
        return False
    # In an Enterprise Grid org, other workspaces of the same org are not outsiders.
    enterprise = (user.get("enterprise_user") or {}).get("enterprise_id")
    return not (me.enterprise_id and enterprise == me.enterprise_id)


def classify(user: dict, me: Identity, allowed: set[str] | None, confirmed: set[str]) -> Reason | None:
    user_id = user.get("id", "")
    if user.get("is_restricted") or user.get("is_ultra_restricted"):
        return Reason.GUEST
    if user.get("is_bot") or user.get("is_app_user"):
        return Reason.APP
    if is_external(user, me):
        if (allowed is not None and user_id in allowed) or user_id in confirmed:
            return None
        return Reason.EXTERNAL
    if allowed is not None and user_id not in allowed:
        return Reason.NOT_INVITED
    return None
