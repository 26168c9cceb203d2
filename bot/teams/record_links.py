"""The signed-off records as links in Teams: the Teams side of a files card (dialogs.record_to_chair;
what is shared with Slack is bot.records.to_chair).

The chair gets one message in their personal chat with the bot: for each child, the case reference
and the discussion's number, and an `Action.OpenUrl` button per file (DOCX, PDF). Each button opens
`PUBLIC_URL/records/<token>`, served here: the token (bot/records/links.py) names one record version,
one format and the chair, expires after RECORD_LINK_HOURS, and is signed by the bot; the file is
served only if the token is the bot's, has not expired, and its person may still see the record's
discussion. Anything else is refused with 403 and no detail.

Why links and not Teams' own file sending (FileConsentCard): that flow asks the person to accept each
file, then has the bot upload it into the person's OneDrive, from an invoke Teams sends when (and if)
they click. Six clicks for three siblings; copies of case records in each chair's OneDrive, outside
the council's retention rules and the case-management system; and a send that depends on a click, so
the outbox cannot make it happen exactly once at sign-off. A link keeps the record in the bot's
database until the chair asks for it, and every download is audited.

Buttons rather than links in the text: Teams fetches URLs in message text to preview them, which
would fetch (and audit) the files on nobody's behalf; it does not follow an Action.OpenUrl.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from microsoft_teams.cards import (
    Action,
    ActionSet,
    AdaptiveCard,
    CardElement,
    OpenUrlAction,
    TeamsCardProperties,
    TextBlock,
)

from bot.delivery import DeliveryError
from bot.records import files
from bot.records.links import Grant, Links, link_key
from bot.records.to_chair import ChairRecords, sent_key
from bot.services import Services
from bot.teams.cards import SCHEMA
from bot.teams.conversations import PLATFORM, Place
from bot.teams.link_log import hide_tokens
from bot.teams.sending import Sender, card_activity
from dialogs.model import Card
from dialogs.record_export import Signed
from dialogs.record_to_chair import may_see
from storage.models import RecordVersion

log = logging.getLogger(__name__)

ROUTE = "/records/{token}"
WHERE = "teams-link"  # the audit entries' destination
DOWNLOADED = "record.downloaded"  # the audit action of each file fetched through a link
REFUSED = "This link is not valid. Ask the chair of the discussion for the record."
EXPIRED = "This link has expired. Ask the chair of the discussion for the record."


class RecordLinks:
    """Sends the links (a files card's delivery) and serves what they point at."""

    def __init__(self, services: Services, records: ChairRecords | None = None) -> None:
        settings = services.settings
        self.services = services
        self.records = records or ChairRecords(services.db, services.dialogs)
        self.links = Links(link_key(settings))
        self.public_url = settings.public_url
        self.lifetime = timedelta(hours=settings.record_link_hours)

    def setup(self, app: web.Application) -> None:
        # GET only: a HEAD (a link checker, a proxy) must not render and audit a download.
        app.router.add_get(ROUTE, self.serve, allow_head=False)
        hide_tokens("/records/")
        if not self.public_url:
            log.warning("Teams: PUBLIC_URL is not set, so the chair cannot be sent the record files")

    # --- sending ------------------------------------------------------------------------------------

    async def send(self, sender: Sender, place: Place, card: Card, version_ids: tuple[int, ...]) -> None:
        """The chair's message with a link per file, once: a second send of the same card (the outbox
        trying again after a crash) finds it sent and sends nothing."""
        person_id = card.target.person_id
        if person_id is None:
            raise DeliveryError("the record files card names nobody", retryable=False)
        if not self.public_url:
            raise DeliveryError(
                "I could not send you the signed-off record files: the bot's public address (PUBLIC_URL) "
                "is not set. They are signed off and stored; ask your administrator to set it, or to "
                "export them for you (python -m bot record export)",
                retryable=False,
            )
        key = sent_key(card.key or "", person_id)
        if await self.records.sent(PLATFORM, key):
            return
        loaded = [r for r in [await self.records.load(i) for i in version_ids] if r is not None]
        if not loaded:
            log.warning("Teams: none of the record versions %s is signed off; no links sent", version_ids)
            return
        until = self.services.time.now() + self.lifetime
        content = self.card(card, loaded, person_id, until)
        await sender.post(
            place.conversation_id, card_activity(content, summary=card.preview), where="your private chat"
        )
        exported = [(r, fmt) for r in loaded for fmt in self.records.formats]
        await self.records.mark_sent(
            PLATFORM,
            key,
            {"conversation_id": place.conversation_id},
            exported,
            where=WHERE,
            person_id=person_id,
        )

    def url(self, grant: Grant) -> str:
        return f"{self.public_url}/records/{self.links.issue(grant)}"

    def card(self, card: Card, records: list[Signed], person_id: int, until: datetime) -> dict[str, Any]:
        """The Adaptive Card (1.5): per child, the case reference and discussion, a button per file."""
        expires = int(until.timestamp())
        body: list[CardElement] = [
            TextBlock(text=card.title, weight="Bolder", size="Medium", wrap=True, style="heading")
        ]
        for record in records:
            r = record.record
            body.append(
                TextBlock(
                    text=f"**{r.case_ref}**, strategy discussion {r.discussion_number}, version {r.version}",
                    wrap=True,
                    spacing="Medium",
                )
            )
            buttons: list[Action] = [
                OpenUrlAction(
                    title=fmt.label,
                    url=self.url(Grant(record.version.id or 0, fmt, person_id, expires)),
                )
                for fmt in self.records.formats
            ]
            body.append(ActionSet(actions=buttons))
        local = until.astimezone(self.services.dialogs.zone)
        body.append(
            TextBlock(
                text=(
                    f"The links are for you, until {local:%d %b %Y %H:%M}, while you may see the discussion. "
                    "Please do not forward them."
                ),
                wrap=True,
                size="Small",
                is_subtle=True,
                spacing="Medium",
            )
        )
        adaptive = AdaptiveCard(version="1.5", body=body, msteams=TeamsCardProperties(width="full"))
        return {"$schema": SCHEMA} | adaptive.model_dump(by_alias=True, exclude_none=True, mode="json")

    # --- serving --------------------------------------------------------------------------------------

    async def serve(self, request: web.Request) -> web.StreamResponse:
        grant = self.links.read(request.match_info["token"])
        if grant is None:
            return _refused(REFUSED)
        if grant.expired(self.services.time.now()):
            return _refused(EXPIRED)
        async with self.services.db.read() as session:
            version = await session.get(RecordVersion, grant.version_id)
            allowed = version is not None and await may_see(session, grant.person_id, version)
        if not allowed:
            return _refused(REFUSED)
        record = await self.records.load(grant.version_id)
        if record is None:
            return _refused(REFUSED)
        [file] = await self.records.render(record, (grant.fmt,))
        async with self.services.db.session() as session:
            await files.audit_export(
                session,
                record,
                grant.fmt,
                WHERE,
                actor=f"person:{grant.person_id}",
                channel=PLATFORM,
                action=DOWNLOADED,
            )
        return web.Response(
            body=file.data,
            content_type=grant.fmt.media_type,
            headers={
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
