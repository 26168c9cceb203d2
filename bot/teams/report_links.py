"""The figures file as a link in Teams: the Teams side of a report card (dialogs.report_card; what is
shared with Slack and the playground is bot.reports.to_person).

The manager who asked gets one message in their personal chat with the bot: the period and an
`Action.OpenUrl` button to `PUBLIC_URL/reports/<token>`, served here. A link rather than Teams' own
file sending, and a button rather than a link in the text, for the reasons bot.teams.record_links
gives: no copies in OneDrive, a send the outbox can make happen exactly once, and no preview fetch on
nobody's behalf.

The token names the person, the period and when it expires, and is signed by the bot:

    <person id>.<first day, YYYYMMDD>.<last day, YYYYMMDD>.<expires, Unix seconds>.<signature>

HMAC-SHA256 under a key derived from the record links' key (bot.records.links.link_key) for this use
only, so neither kind of token can pass as the other. Nothing in it is secret or identifying, and
nothing is stored. The file is made at each request, from the database, and only while the person may
still have the figures (ReportFiles.make checks their role again); each download is audited.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from aiohttp import web
from microsoft_teams.cards import (
    ActionSet,
    AdaptiveCard,
    CardElement,
    OpenUrlAction,
    TeamsCardProperties,
    TextBlock,
)

from bot.delivery import DeliveryError
from bot.records.links import Signer, derive, link_key
from bot.records.to_chair import sent_key
from bot.reports.to_person import MEDIA_TYPE, ReportFiles
from bot.services import Services
from bot.teams.cards import SCHEMA
from bot.teams.conversations import PLATFORM, Place
from bot.teams.link_log import hide_tokens
from bot.teams.sending import Sender, card_activity
from dialogs.model import Card
from storage import audit

log = logging.getLogger(__name__)

ROUTE = "/reports/{token}"
WHERE = "teams-link"  # the audit entries' destination
DOWNLOADED = "report.downloaded"  # the audit action of each figures file fetched through a link
REFUSED = "This link is not valid."
EXPIRED = "This link has expired. Send report to the Strategy discussion app in Teams for a new one."
UNAVAILABLE = "The figures cannot be made just now. Please try again later."
_CONTEXT = b"strategy-bot report links v1"


@dataclass(frozen=True)
class ReportGrant:
    """What a link lets its holder fetch: one person's figures for one period, until."""

    person_id: int
    start: date
    end: date
    expires_at: int  # Unix seconds

    def expired(self, now: datetime) -> bool:
        return now.timestamp() >= self.expires_at


class ReportTokens:
    def __init__(self, key: bytes) -> None:
        self._signer = Signer(derive(key, _CONTEXT))

    def issue(self, grant: ReportGrant) -> str:
        return self._signer.issue(
            [str(grant.person_id), f"{grant.start:%Y%m%d}", f"{grant.end:%Y%m%d}", str(grant.expires_at)]
        )

    def read(self, token: str) -> ReportGrant | None:
        """The grant a token carries if the bot signed it (expired or not); None if it is malformed or
        its signature is not ours."""
        fields = self._signer.read(token, 4)
        if fields is None or not all(f.isdigit() for f in fields):
            return None
        person_id, start, end, expires_at = fields
        try:
            grant = ReportGrant(
                int(person_id),
                datetime.strptime(start, "%Y%m%d").date(),
                datetime.strptime(end, "%Y%m%d").date(),
                int(expires_at),
            )
        except ValueError:
            return None
        return grant if grant.start <= grant.end else None


class ReportLinks:
    """Sends the link (a report card's delivery) and serves what it points at."""

    def __init__(self, services: Services, files: ReportFiles | None = None) -> None:
        settings = services.settings
        self.services = services
        self.files = files or ReportFiles(services.db, services.dialogs)
        self.tokens = ReportTokens(link_key(settings))
        self.public_url = settings.public_url
        self.lifetime = timedelta(hours=settings.record_link_hours)

    def setup(self, app: web.Application) -> None:
        # GET only: a HEAD (a link checker, a proxy) must not make and audit a download.
        app.router.add_get(ROUTE, self.serve, allow_head=False)
        hide_tokens("/reports/")
        if not self.public_url:
            log.warning("Teams: PUBLIC_URL is not set, so managers cannot be sent the figures file")

    # --- sending ------------------------------------------------------------------------------------

    async def send(self, sender: Sender, place: Place, card: Card, start: date, end: date) -> None:
        """The manager's message with the link, once: a second send of the same card (the outbox
        trying again after a crash) finds it sent and sends nothing."""
        person_id = card.target.person_id
        if person_id is None:
            raise DeliveryError("the report card names nobody", retryable=False)
        if not self.public_url:
            raise DeliveryError(
                "I could not send you the figures file: the bot's public address (PUBLIC_URL) is not set. "
                "Ask your administrator to set it, or to make the figures for you (python -m bot report)",
                retryable=False,
            )
        key = sent_key(card.key or "", person_id)
        if await self.files.sent(PLATFORM, key):
            return
        if not await self.files.may_have(person_id):
            log.warning("Teams: person %s may no longer have the figures; no link sent", person_id)
            return
        until = self.services.time.now() + self.lifetime
        grant = ReportGrant(person_id, start, end, int(until.timestamp()))
        content = self.card(card, grant, until)
        await sender.post(
            place.conversation_id, card_activity(content, summary=card.preview), where="your private chat"
        )
        await self.files.mark_sent(
            PLATFORM,
            key,
            {"conversation_id": place.conversation_id},
            start=start,
            end=end,
            where=WHERE,
            person_id=person_id,
        )

    def url(self, grant: ReportGrant) -> str:
        return f"{self.public_url}/reports/{self.tokens.issue(grant)}"

    def card(self, card: Card, grant: ReportGrant, until: datetime) -> dict[str, Any]:
        """The Adaptive Card (1.5): the period, what the file is, and one button."""
        local = until.astimezone(self.services.dialogs.zone)
        body: list[CardElement] = [
            TextBlock(text=card.title, weight="Bolder", size="Medium", wrap=True, style="heading"),
            TextBlock(text=card.text, wrap=True),
            ActionSet(actions=[OpenUrlAction(title="Open the figures (HTML)", url=self.url(grant))]),
            TextBlock(
                text=(
                    f"The link is for you, until {local:%d %b %Y %H:%M}, while you may have the figures. "
                    "Please do not forward it."
                ),
                wrap=True,
                size="Small",
                is_subtle=True,
                spacing="Medium",
            ),
        ]
        adaptive = AdaptiveCard(version="1.5", body=body, msteams=TeamsCardProperties(width="full"))
        return {"$schema": SCHEMA} | adaptive.model_dump(by_alias=True, exclude_none=True, mode="json")

    # --- serving --------------------------------------------------------------------------------------

    async def serve(self, request: web.Request) -> web.StreamResponse:
        grant = self.tokens.read(request.match_info["token"])
        if grant is None:
            return _refused(REFUSED)
        if grant.expired(self.services.time.now()):
            return _refused(EXPIRED)
        try:
            file = await self.files.make(grant.person_id, grant.start, grant.end)
        except DeliveryError as err:  # the page could not be drawn: nothing about the figures in it
            log.error("Teams: a figures file for person %s failed: %s", grant.person_id, err)
            return web.Response(status=500, text=UNAVAILABLE, headers={"Cache-Control": "no-store"})
        if file is None:  # no longer a manager
            return _refused(REFUSED)
        async with self.services.db.session() as session:
            await audit.append(
                session,
                actor=f"person:{grant.person_id}",
                channel=PLATFORM,
                action=DOWNLOADED,
                detail={"start": grant.start.isoformat(), "end": grant.end.isoformat(), "where": WHERE},
            )
        return web.Response(
            body=file.data,
            headers={
                "Content-Type": MEDIA_TYPE,
                "Content-Disposition": f'attachment; filename="{file.name}"',
                "Cache-Control": "private, no-store",
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
            },
        )


def _refused(text: str) -> web.Response:
    return web.Response(
        status=403,
        text=text,
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )
