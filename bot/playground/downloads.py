"""The playground's record downloads: on a discussion's page, each child's signed-off record in every
format, for the people who may see the discussion; each download audited.

Who may download is who may see the discussion (the lifecycle's VIEW rule: the chair, those taking
part, a manager who may convene, the chair's reviewer), asked of the engine's own `Ctx.relations`
so the two cannot drift. The file is the child's latest signed-off version, named by
`Signed.file_stem` (case reference, discussion, version: never a name).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.playground.actions import PLATFORM
from bot.playground.render import esc
from bot.records import files
from bot.records.formats import Format, render
from dialogs.engine import Ctx
from dialogs.lifecycle import Who
from dialogs.model import Actor, Turn, TurnKind
from dialogs.record_export import newest_signed, signed
from storage.models import Child, Discussion, RecordVersion


@dataclass(frozen=True)
class Offer:
    """A child's latest signed-off record, to download."""

    discussion_id: int
    child_id: int
    case_ref: str
    version: int

    def href(self, fmt: Format) -> str:
        return f"/discussions/{self.discussion_id}/records/{self.child_id}/{fmt.value}"


async def may_see(services, session: AsyncSession, me: Actor, discussion: Discussion) -> bool:
    """The same rule as seeing the discussion (Act.VIEW: Who.MEMBER)."""
    ctx = Ctx(
        services.dialogs,
        session,
        Turn(actor=me, kind=TurnKind.COMMAND, channel=PLATFORM),
        services.time.now(),
    )
    ctx.switch(discussion)
    return Who.MEMBER in await ctx.relations(reviewer=True)


async def _latest(session: AsyncSession, discussion_id: int) -> list[tuple[Child, RecordVersion]]:
    """Each child's latest signed-off version in this discussion, in the chair's order."""
    newest = newest_signed(col(RecordVersion.discussion_id) == discussion_id)
    query = (
        select(Child, RecordVersion)
        .join(RecordVersion, col(RecordVersion.child_id) == col(Child.id))
        .where(col(RecordVersion.id).in_(newest))
        .order_by(col(Child.position), col(Child.id))
    )
    return [(c, v) for c, v in (await session.execute(query)).all()]


async def offers(services, me: Actor, discussion_id: int) -> list[Offer]:
    """What `me` may download from this discussion's page (nothing before a sign-off, or for others)."""
    async with services.db.read() as session:
        discussion = await session.get(Discussion, discussion_id)
        if discussion is None or not await may_see(services, session, me, discussion):
            return []
        return [
            Offer(discussion_id, c.id, c.case_ref, v.version)
            for c, v in await _latest(session, discussion_id)
            if c.id is not None
        ]


def section(found: list[Offer]) -> str:
    """The "Signed-off records" section of a discussion's page."""
    if not found:
        return ""
    rows = "".join(
        f"<li><strong>{esc(o.case_ref)}</strong> version {o.version}: "
        + " · ".join(f'<a href="{esc(o.href(fmt))}" download>{esc(fmt.label)}</a>' for fmt in Format)
        + "</li>"
        for o in found
    )
    return (
        '<section id="records" class="records"><h2>Signed-off records</h2>'
        '<p class="muted">One per child. Every download is recorded in the audit trail.</p>'
        f"<ul>{rows}</ul></section>"
    )


class Downloads:
    """The download handler (a part of Playground: it uses its services and `_me`)."""

    async def download(self, request: web.Request) -> web.Response:
        me = await self._me(request)  # type: ignore[attr-defined]
        if me is None:
            raise web.HTTPForbidden(text="Choose who you are first: open the playground's home page.")
        discussion_id, child_id = int(request.match_info["id"]), int(request.match_info["child"])
        fmt = Format(request.match_info["fmt"])
        services = self.services  # type: ignore[attr-defined]
        async with services.db.read() as session:
            discussion = await session.get(Discussion, discussion_id)
            if discussion is None:
                raise web.HTTPNotFound(text="There is no such discussion.")
            if not await may_see(services, session, me, discussion):
                raise web.HTTPForbidden(text="You are not taking part in this discussion.")
            found = [v for c, v in await _latest(session, discussion_id) if c.id == child_id]
            if not found:
                raise web.HTTPNotFound(text="That child's record has not been signed off.")
            record = await signed(services.dialogs, session, found[0])
        body = await asyncio.to_thread(render, record.record, fmt)  # DOCX and PDF take a moment
        async with services.db.session() as session:
            await files.audit_export(
                session, record, fmt, "download", actor=f"person:{me.person_id}", channel=PLATFORM
            )
        name = files.file_name(record, fmt)  # letters, digits, "-", "_" and ".": safe in the header
        return web.Response(
            body=body,
            content_type=fmt.media_type,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
