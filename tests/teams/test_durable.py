"""Issue 11 for Teams: the turn is committed within the request, so a reply Teams got a 2xx for is in
the record; while the database is away every reply gets a non-2xx, and Teams' resend lands once."""

from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from storage import refs
from storage.models import Contribution, Discussion, Participant, Series
from tests.proxy import pg_proxy  # noqa: F401 - a fixture
from tests.teams.conftest import CHANNEL, add_people, make_harness, user

THREAD = f"{CHANNEL};messageid=1764000000001"


async def seed(db) -> dict[str, int]:
    """Chair and police in the directory, and a discussion under way in THREAD."""
    people = await add_people(db, ("chair", "police"))
    now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    async with db.session() as s:
        series = Series(case_ref="LL-204511", opened_at=now)
        s.add(series)
        await s.flush()
        d = Discussion(
            series_id=series.id,
            case_ref="LL-204511",
            category="physical",
            concern="Bruising seen at school",
            convened_by_id=people["chair"],
            chair_id=people["chair"],
            convened_at=now,
            proposed_at=now + timedelta(hours=4),
            meeting_due_at=now + timedelta(hours=24),
            state="in_progress",
        )
        s.add(d)
        await s.flush()
        s.add(
            Participant(
                discussion_id=d.id,
                person_id=people["chair"],
                agency="social_care",
                role="duty_manager",
                is_chair=True,
                status="accepted",
            )
        )
        s.add(
            Participant(
                discussion_id=d.id, person_id=people["police"], agency="police", role="police_officer"
            )
        )
        await s.flush()
        await refs.save_ref(s, platform="teams", kind="thread", key=THREAD, discussion_id=d.id)
    return people


async def _recorded(db) -> Counter:
    async with db.session() as s:
        return Counter((await s.execute(select(Contribution.text))).scalars())


async def test_teams_replies_while_postgresql_is_away_are_recorded_or_refused(
    pg_proxy,  # noqa: F811
    key,
    login_url,
    connector,
):
    proxy, db = pg_proxy
    async with make_harness(db, key, login_url, connector) as bot:
        await seed(db)
        police = user("police")
        replies = {
            f"Reply {n}": bot.message(police, f"Reply {n}", thread=THREAD, mention=False) for n in range(8)
        }
        status: dict[str, int] = {}
        for n in range(3):
            status[f"Reply {n}"], _ = await bot.send(replies[f"Reply {n}"])
        await proxy.shut()
        for n in range(3, 8):
            status[f"Reply {n}"], _ = await bot.send(replies[f"Reply {n}"])
        # A card action (Action.Execute, an invoke) while the database is away is refused too, not
        # answered with an invoke response that says it was done.
        press = bot.execute(police, THREAD, {"verb": "x"})
        press_status, _ = await bot.send(press)
        assert press_status >= 500
        await proxy.open()

        acked = {t for t, code in status.items() if 200 <= code < 300}
        refused = {t for t, code in status.items() if code >= 300}
        assert acked == {f"Reply {n}" for n in range(3)}
        assert refused == {f"Reply {n}" for n in range(3, 8)} and all(status[t] >= 500 for t in refused)
        recorded = await _recorded(db)
        assert set(recorded) == acked and set(recorded.values()) == {1}

        # Teams sends again what got no 2xx (and, as it may, one that did): each lands once.
        for t in sorted(refused | {"Reply 0"}):
            code, _ = await bot.send(replies[t])
            assert 200 <= code < 300
        recorded = await _recorded(db)
        assert set(recorded) == set(replies) and set(recorded.values()) == {1}
