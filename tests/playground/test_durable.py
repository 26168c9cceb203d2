"""Issue 11 in the playground: with the database unreachable a reply is answered 503, on a page that
says it was NOT saved and holds what was typed, never with the redirect that means "done"; sent again
once the database is back, it is saved once."""

from aiohttp.test_utils import TestServer
from sqlalchemy import select

from bot.config import Settings
from bot.services import Services
from bot.web import build_app
from storage.models import Contribution
from tests.playground.conftest import TUESDAY_10AM, Playground, StoppedTime
from tests.playground.test_flows import CASE, quorate
from tests.playground.webpage import form_data
from tests.proxy import pg_proxy  # noqa: F401 - a fixture


async def test_a_reply_while_the_database_is_away_is_not_saved_and_says_so(pg_proxy):  # noqa: F811
    proxy, db = pg_proxy
    services = Services.create(
        Settings(_env_file=None, database_url=db.url, scheduler_enabled=False),
        db,
        time=StoppedTime(TUESDAY_10AM),
    )
    server = TestServer(build_app(services))
    await server.start_server()
    pg = Playground(services, server)
    try:
        did = await quorate(pg)
        dm = await pg.as_("duty_manager")
        await dm.get(f"/discussions/{did}")
        await dm.press("Start", dm.page.card(CASE, within="main-post"))
        police = await pg.as_("police_officer")
        page = await police.get(f"/discussions/{did}")
        form = page.root.first("form", action="/act/reply")
        data = form_data(form, {"text": "Known to police: an incident in 2025."})

        await proxy.shut()
        async with police.http.post(server.make_url("/act/reply"), data=data, allow_redirects=False) as resp:
            status, body = resp.status, await resp.text()
        assert status == 503
        assert "NOT saved" in body and "Known to police: an incident in 2025." in body

        await proxy.open()
        async with police.http.post(server.make_url("/act/reply"), data=data, allow_redirects=False) as resp:
            assert resp.status == 303  # the same form, sent again: saved this time
        async with police.http.post(server.make_url("/act/reply"), data=data, allow_redirects=False) as resp:
            assert resp.status == 303  # and a third time: "already done", not saved twice
        async with db.session() as s:
            texts = (await s.execute(select(Contribution.text))).scalars().all()
        assert texts == ["Known to police: an incident in 2025."]
    finally:
        for user in pg.users.values():
            await user.close()
        await server.close()
