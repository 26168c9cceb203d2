"""A small cast in the directory and the stand-in workspace, and a discussion to deliver cards for."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from dialogs import directory
from storage.models import Discussion, Participant, Series
from tests.slack.standin import OTHER_TEAM, TEAM, SlackStandIn

# (slug, Slack id, name, agency, role, linked in the directory up front)
CAST = {
    "duty": ("U0DUTY", "Dana Duty", "social_care", "duty_manager", True),
    "police": ("U0POLICE", "Pat Constable", "police", "police_officer", True),
    "health": ("U0HEALTH", "Hari Health", "health", "health_professional", False),  # found by email
    "paeds": ("U0PAEDS", "Dr Pia Paeds", "health", "paediatrician", True),
    "team": ("U0TEAM", "Tam Team", "social_care", "team_manager", True),
}


def email(slug: str) -> str:
    return f"{slug}@council.example.org"


@dataclass
class Cast:
    ids: dict[str, int]  # slug -> person id
    slack: dict[str, str]  # slug -> Slack user id


async def seed_people(db, procedure, standin: SlackStandIn, cast: dict = CAST) -> Cast:
    """`cast` as CAST: slug -> (Slack id, name, agency, role, linked in the directory up front)."""
    ids, slack = {}, {}
    async with db.session() as s:
        for slug, (user, name, agency, role, linked) in cast.items():
            person = await directory.add_person(
                s,
                procedure,
                name=name,
                email=email(slug),
                agency=agency,
                role=role,
                identities=[("slack", user, TEAM)] if linked else [],
            )
            ids[slug], slack[slug] = person.id, user
            standin.add_user(user, name=name, email=email(slug))
    return Cast(ids, slack)


async def seed_discussion(db, cast: Cast, *, case_ref: str = "ABC-123", invited=("police", "health")) -> int:
    now = datetime(2026, 3, 27, 10, 0, tzinfo=UTC)
    async with db.session() as s:
        series = Series(case_ref=case_ref, opened_at=now)
        s.add(series)
        await s.flush()
        d = Discussion(
            series_id=series.id,
            case_ref=case_ref,
            category="neglect",
            concern="Bruising seen at school",
            convened_by_id=cast.ids["duty"],
            chair_id=cast.ids["duty"],
            convened_at=now,
            proposed_at=now + timedelta(hours=4),
            meeting_due_at=now + timedelta(hours=24),
        )
        s.add(d)
        await s.flush()
        s.add(
            Participant(
                discussion_id=d.id,
                person_id=cast.ids["duty"],
                agency="social_care",
                role="duty_manager",
                is_chair=True,
                status="accepted",
            )
        )
        for slug in invited:
            _, _, agency, role, _ = CAST[slug]
            s.add(Participant(discussion_id=d.id, person_id=cast.ids[slug], agency=agency, role=role))
        return d.id


def add_outsiders(standin: SlackStandIn) -> None:
    standin.add_user("U0GUEST", name="Gus Guest", email="gus@gmail.example", guest=True)
    standin.add_user("U0EXT", name="Sam Sergeant", email="sam@force.police.uk", team=OTHER_TEAM)
    standin.add_user("U0OTHERAPP", name="Some other app", email=None, bot=True)
    standin.add_user("U0COLLEAGUE", name="Col League", email="col@council.example.org")
