"""The playground's cast: fictional staff a fresh playground database is given to pick from."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dialogs.directory.people import add_person
from dialogs.procedure import Procedure
from storage.models import Person


@dataclass(frozen=True)
class DemoPerson:
    slug: str  # the playground identity
    name: str
    agency: str
    role: str
    manager: str | None = None  # the manager's slug

    @property
    def email(self) -> str:
        return f"{self.slug.replace('_', '.')}@example.org"


# Fictional staff; managers come before the people they manage.
DEMO_PEOPLE: tuple[DemoPerson, ...] = (
    DemoPerson("district_manager", "Dee District (district manager)", "social_care", "district_manager"),
    DemoPerson("team_manager", "Tam Team (team manager)", "social_care", "team_manager", "district_manager"),
    DemoPerson("duty_manager", "Dana Duty (duty manager)", "social_care", "duty_manager", "team_manager"),
    DemoPerson("social_worker", "Sol Social (social worker)", "social_care", "social_worker", "duty_manager"),
    DemoPerson(
        "ooh_manager", "Nia Night (out-of-hours manager)", "social_care", "ooh_manager", "team_manager"
    ),
    DemoPerson("ooh_worker", "Owen Late (out-of-hours worker)", "social_care", "ooh_worker", "ooh_manager"),
    DemoPerson("police_manager", "Mo Sergeant (police safeguarding manager)", "police", "police_manager"),
    DemoPerson(
        "police_officer", "Pat Constable (police officer)", "police", "police_officer", "police_manager"
    ),
    DemoPerson("health_professional", "Hari Health (health visitor)", "health", "health_professional"),
    DemoPerson("paediatrician", "Dr Pia Paeds (paediatrician)", "health", "paediatrician"),
    DemoPerson("consultant", "Dr Cal Consultant (consultant)", "health", "consultant"),
    DemoPerson("referrer", "Rae Referrer (school safeguarding lead)", "education", "referrer"),
)


async def seed_demo(session: AsyncSession, procedure: Procedure) -> int:
    """Add the playground's cast to an empty directory; returns how many were added (0 if not empty)."""
    if (await session.execute(select(func.count()).select_from(Person))).scalar_one():
        return 0
    by_slug = {p.slug: p for p in DEMO_PEOPLE}
    for p in DEMO_PEOPLE:
        await add_person(
            session,
            procedure,
            name=p.name,
            email=p.email,
            agency=p.agency,
            role=p.role,
            identities=[("playground", p.slug, "")],
            manager_email=by_slug[p.manager].email if p.manager else None,
            actor="system",
            channel="playground",
        )
    return len(DEMO_PEOPLE)
