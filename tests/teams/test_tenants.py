"""Someone the directory does not know yet is matched to a person by the email in their Teams profile
only when they belong to the council's tenant or a partner tenant the settings name: anyone else (a
member of a shared channel from another organisation, a guest) could claim any address."""

import pytest
from sqlalchemy import select

from bot.teams.agent import NOT_KNOWN
from storage.models import Person, PersonIdentity
from tests.teams.conftest import CHANNEL, TEAM, TENANT, make_harness, personal_chat, user

PARTNER = "3c1d9a47-5b2e-4f8a-a1c6-7e0d2b9f4a18"  # a police force's tenant
STRANGER = "9e8d7c6b-0000-4a3b-8c2d-1f0e9d8c7b6a"  # nobody the council knows


@pytest.mark.parametrize(
    "home_tenant, allowed, linked",
    [
        (TENANT, "", True),  # the council's own staff
        (PARTNER, PARTNER, True),  # a partner's staff, in a shared channel
        (STRANGER, "", False),
        (STRANGER, PARTNER, False),
    ],
)
async def test_an_email_links_to_a_known_person_only_from_a_trusted_tenant(
    db, key, login_url, connector, home_tenant, allowed, linked
):
    async with make_harness(db, key, login_url, connector, microsoft_allowed_tenant_ids=allowed) as bot:
        async with db.session() as s:
            police = Person(
                display_name="Pat Police",
                email="pat.police@example.org",
                agency="police",
                role="police_officer",
            )
            s.add(police)
        newcomer = user("newcomer")
        profile = newcomer.member() | {"tenantId": home_tenant, "email": "pat.police@example.org"}
        connector.rosters[TEAM] = connector.rosters[CHANNEL] = [profile]
        connector.installed_for = {newcomer.id}

        # A message in the council's own channel (so the activity's tenant is the council's).
        status, _ = await bot.send(bot.message(newcomer, "status"))

    assert status == 202
    async with db.session() as s:
        identities = (await s.execute(select(PersonIdentity))).scalars().all()
    to_them = connector.sent("SendToConversation", personal_chat(newcomer))
    if linked:
        assert {(i.person_id, i.external_id) for i in identities} == {
            (police.id, newcomer.aad),
            (police.id, newcomer.id),
        }
        assert to_them and all(NOT_KNOWN not in c.body.get("text", "") for c in to_them)
    else:
        assert identities == []
        assert [c.body["text"] for c in to_them] == [NOT_KNOWN]
