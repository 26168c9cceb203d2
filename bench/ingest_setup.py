"""Setting up the ingest bench's discussions through the bot, as a chair would."""

from __future__ import annotations

from bench.ingest_load import CAST, CHAIR, REPLIERS
from tests.slack.standin import BOT_USER

# --- setting up discussions, through the bot as a chair would ---------------------------------------


def engine_button(blocks: list[dict], action: str) -> dict:
    for b in blocks or []:
        if b.get("type") == "actions":
            for e in b["elements"]:
                if e["action_id"].startswith("d:") and e["action_id"].split(":", 2)[2] == action:
                    return e
    raise RuntimeError(f"no {action!r} button")


async def convene(db, standin, n: int, prefix: str) -> list[dict]:
    """n discussions convened with /strategy, the convene and invite modals, two acceptances by direct
    message and the chair's Start: the walk of tests/slack/test_scenario.py, on an in-process app
    against the same database and stand-in Slack the bot processes use afterwards."""
    from sqlalchemy import select

    from storage.models import Discussion
    from tests.slack.conftest import make_harness
    from tests.slack.people import seed_people

    harness = await make_harness(db, standin)
    procedure = harness.services.procedure
    seeded = await seed_people(
        db, procedure, standin, {u.lower(): (u, *who, True) for u, who in CAST.items()}
    )
    ids = {user: seeded.ids[user.lower()] for user in CAST}
    standin.add_channel("C0DUTY", name="duty-team", members=[BOT_USER, CHAIR])
    answers = {
        "category": "physical",
        "concern": "(benchmark)",
        "immediate_risk": "no",
        "referring_agency": "health",
        "format": "meeting",
    } | {f"c_{c.id}": "no" for c in procedure.circumstances}
    people = [str(ids[u]) for u in REPLIERS]
    threads = []
    try:
        for i in range(n):
            await harness.command(CHAIR, "convene", channel="C0DUTY")
            form = harness.last_view("views.open")
            done = await harness.submit(CHAIR, form, answers | {"case_ref": f"{prefix}-{100001 + i}"})
            view = done.json()["view"]
            await harness.click(
                CHAIR, engine_button(view["blocks"], "invite"), view={**view, "id": form["id"]}
            )
            invite = harness.last_view("views.push")
            await harness.submit(CHAIR, invite, {invite["blocks"][-1]["block_id"]: people})
            for user in REPLIERS:
                dm = standin.messages(f"D{user}")[-1]
                accept = engine_button(dm["blocks"], "accept")
                await harness.click(user, accept, channel=f"D{user}", message_ts=dm["ts"])
            name = standin.called("conversations.create")[-1]["name"]
            channel = next(c for c in standin.channels.values() if c.name == name)
            thread_ts = channel.pins[0]
            main = channel.messages[thread_ts]
            start = engine_button(main["blocks"], "start")
            await harness.click(CHAIR, start, channel=channel.id, message_ts=thread_ts)
            did = await harness.app.surface.discussion_for_thread(channel.id, thread_ts)
            async with db.session() as s:
                state = (await s.execute(select(Discussion.state).where(Discussion.id == did))).scalar_one()
            if state != "in_progress":
                raise RuntimeError(f"discussion {did} is {state}, not in progress, after the walk")
            threads.append({"channel": channel.id, "thread_ts": thread_ts, "discussion_id": did})
    finally:
        await harness.settle()
        await harness.client.close()
    if standin.problems:
        raise RuntimeError(f"the stand-in Slack saw problems: {standin.problems[:3]}")
    return threads
