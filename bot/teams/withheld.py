"""The guard at work in a discussion's channel or group chat (bot.teams.guard says who may not see
it): while anyone there may not, its post shows only a neutral notice ("neutral" in the post's ref)
and thread cards are kept (ref kind "withheld", one each, in order), to be posted once everyone
present is taking part. The chair is told privately why, once each time details are hidden."""

import uuid

from microsoft_agents.activity import Activity
from sqlalchemy import select

from bot.teams import cards as ac
from bot.teams.conversations import PLATFORM, place_for
from bot.teams.guard import Verdict
from bot.teams.keyed import save_card_ref
from bot.teams.sending import Sender, card_activity
from dialogs.model import Card, Target, TargetKind
from storage import refs
from storage.db import Database
from storage.models import ConversationRef, Discussion


def post_activity(card: Card, verdict: Verdict) -> Activity:
    """The discussion's post as the place may see it: the card, or its neutral notice."""
    return card_activity(ac.fit_one(card if verdict.ok else ac.neutral(card)), summary=card.preview)


async def set_neutral(db: Database, did: int, neutral: bool) -> None:
    async with db.session() as session:
        ref = await refs.find_ref(session, platform=PLATFORM, kind="discussion_post", discussion_id=did)
        if ref is not None and bool(ref.reference.get("neutral")) != neutral:
            ref.reference = ref.reference | {"neutral": neutral}


async def withhold(db: Database, did: int, card: Card, mention: tuple[str, str] | None) -> bool:
    """Keep a thread card until the guard lets it through. True if this hid details the post was
    showing until now: then the chair is to be told (once, with the post)."""
    reference = {
        "content": ac.fit_one(card),
        "summary": card.preview,
        "key": card.key or "",
        "mention": list(mention) if mention else None,
    }
    async with db.session() as session:
        await refs.save_ref(
            session,
            platform=PLATFORM,
            kind="withheld",
            key=f"{did}:{uuid.uuid4().hex}",
            reference=reference,
            discussion_id=did,
        )
        post = await refs.find_ref(session, platform=PLATFORM, kind="discussion_post", discussion_id=did)
        already_told = post is None or bool(post.reference.get("neutral"))
    if already_told:
        return False
    await set_neutral(db, did, True)
    return True


async def release(db: Database, sender: Sender, did: int) -> None:
    """Post the thread cards kept back, in order, now that the guard lets them through."""
    async with db.session() as session:
        query = (
            select(ConversationRef)
            .where(
                ConversationRef.platform == PLATFORM,
                ConversationRef.kind == "withheld",
                ConversationRef.discussion_id == did,
            )
            .order_by(ConversationRef.id)
        )
        held = [(ref.id, dict(ref.reference)) for ref in (await session.execute(query)).scalars()]
    if not held:
        return
    async with db.session() as session:
        place = (await place_for(session, "thread", discussion_id=did))[0]
    for ref_id, reference in held:
        mention = tuple(reference["mention"]) if reference.get("mention") else None
        activity = card_activity(
            reference["content"], summary=reference.get("summary") or "", mention=mention
        )
        sent = await sender.post(place.conversation_id, activity, where="the discussion's thread")
        async with db.session() as session:
            if reference.get("key"):
                await save_card_ref(session, f"thread:{did}", reference["key"], place, sent)
            ref = await session.get(ConversationRef, ref_id)
            if ref is not None:
                await session.delete(ref)


async def chair_notice(db: Database, did: int, verdict: Verdict) -> Card | None:
    """The private message telling the chair why the details are not shown."""
    async with db.session() as session:
        d = await session.get(Discussion, did)
    if d is None:
        return None
    text = (
        f"I posted only a short notice about *{d.case_ref}* in its channel, without the details, "
        f"because {verdict.why()}. The details appear there as soon as everyone in the channel is "
        "taking part: invite them, ask for them to be removed from the channel, or convene in a "
        "channel that holds only the people taking part."
    )
    return Card(
        target=Target(TargetKind.DIRECT, person_id=d.chair_id, discussion_id=did),
        title=f"Details of {d.case_ref} not shown in the channel",
        text=text,
        preview=f"{d.case_ref}: details not shown in the channel",
    )
