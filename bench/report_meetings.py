"""Who takes part in the fictional year's discussions (bench/report_seed.py), and when they meet: the
directory, meeting times (about 30% out of hours for first discussions, by the procedure's office
hours and bank holidays), invitations with their answers, contributions (a few entered by the chair)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from bench.report_rows import DECLINED, FICTION, HOUR, NATION, TZ, Rows
from dialogs.clock import is_working_day, localize
from dialogs.procedure import Procedure
from dialogs.quorum import PRESENT
from storage.models import Contribution, Participant, Person

STAFF = (  # role, agency, how many people
    ("district_manager", "social_care", 2),
    ("team_manager", "social_care", 10),
    ("duty_manager", "social_care", 6),
    ("ooh_manager", "social_care", 4),
    ("social_worker", "social_care", 12),
    ("police_officer", "police", 16),
    ("police_manager", "police", 5),
    ("health_professional", "health", 16),
    ("paediatrician", "health", 5),
    ("referrer", "education", 10),
    ("referrer", "other", 8),
    ("referrer", "housing", 4),
)
BOSS = {"team_manager": "district_manager", "duty_manager": "team_manager", "ooh_manager": "team_manager"}
STATUS = {"accepted": 66, "by_phone": 12, "declined": 11, "absent": 6, "invited": 5}
QUORUM_STATUS = {"accepted": 168, "by_phone": 26, "declined": 3, "absent": 2, "invited": 1}  # police, health
INVITED = {"police_officer": 0.99, "health_professional": 0.97, "social_worker": 0.5}


class Meetings(Rows):
    """The directory, and each discussion's people."""

    def __init__(self, procedure: Procedure, seed: int) -> None:
        super().__init__(seed)
        self.procedure = procedure
        self.pool: dict[str, list[int]] = {}  # people by role
        self.manager: dict[int, int | None] = {}
        self.agency: dict[int, str] = {}
        self.role: dict[int, str] = {}
        self.stages = [s.id for s in procedure.agenda]
        for role, agency, n in STAFF:
            for _ in range(n):
                boss = self.rng.choice(self.pool[BOSS[role]]) if role in BOSS else None
                person = self.add(
                    Person, display_name=f"Bench {role}", agency=agency, role=role, manager_id=boss
                )
                self.manager[person["id"]], self.agency[person["id"]] = boss, agency
                self.role[person["id"]] = role
                self.pool.setdefault(role, []).append(person["id"])

    def meeting_time(self, day: date, ooh: float) -> datetime:
        rng = self.rng
        if rng.random() < ooh:
            weekend = rng.random() < 0.45
            while is_working_day(day, NATION) == weekend:
                day += timedelta(days=1)
            hour = rng.randrange(8, 22) if weekend else rng.choice((7, 8, 17, 18, 19, 20, 21, 22))
        else:
            while not is_working_day(day, NATION):
                day += timedelta(days=1)
            hour = rng.randrange(9, 17)
        local = datetime.combine(day, time(hour, rng.choice((0, 15, 30, 45))))
        return localize(local, TZ).astimezone(UTC)

    def participants(
        self, d: dict[str, Any], chair: int, injury: bool, medical: bool
    ) -> list[tuple[str, int, str]]:
        """Invite who the case calls for; returns (agency, person, status) of those who took part."""
        rng, did = self.rng, d["id"]
        at = d["convened_at"] + timedelta(minutes=rng.randrange(2, 40))
        self.add(
            Participant,
            discussion_id=did,
            person_id=chair,
            agency="social_care",
            role=self.role[chair],
            is_chair=True,
            status="accepted",
            how="chat",
            invited_at=d["convened_at"],
            responded_at=d["convened_at"],
        )
        # The referrer is invited when their agency is not there anyway (out of hours, it is the quorum).
        referrers = [p for p in self.pool["referrer"] if self.agency[p] == d["referring_agency"]]
        chances = INVITED | {"referrer": (0.95 if d["out_of_hours"] else 0.6) if referrers else 0.0}
        chances |= {"paediatrician": 0.7 if medical else 0.08, "police_manager": 0.85 if injury else 0.04}
        present = []
        for role, chance in chances.items():
            if rng.random() >= chance:
                continue
            person = rng.choice(referrers if role == "referrer" else self.pool[role])
            status = self.pick(QUORUM_STATUS if role in ("police_officer", "health_professional") else STATUS)
            how = {"by_phone": "phone", "accepted": rng.choice(("chat", None))}.get(status)
            answered = None if status == "invited" else at + timedelta(minutes=rng.randrange(5, 120))
            not_there = status in ("declined", "absent")
            p = self.add(
                Participant,
                discussion_id=did,
                person_id=person,
                agency=self.agency[person],
                role=role,
                status=status,
                how=how,
                invited_at=at,
                responded_at=answered,
                reason=rng.choice(DECLINED) if not_there else None,
                directions=FICTION if role == "police_manager" and not_there else None,
            )
            chase = self.due(did, "invitation", at + HOUR, person, subject=str(p["id"]), done=answered)
            if answered is None:  # the bot's chase ends when the discussion starts, or is closed
                missed = ("missed", "not answered before the discussion started", d["started_at"])
                state, reason, ended = missed if d["started_at"] else ("closed", "not held", d["closed_at"])
                chase.update(state=state, reason=reason, ended_at=ended, next_at=None, stage="pending")
            if status in PRESENT:
                present.append((self.agency[person], person, status))
        return present

    def contributions(
        self, did: int, chair: int, started: datetime, present: list[tuple[str, int, str]]
    ) -> None:
        rng = self.rng
        for agency, person, status in [("social_care", chair, "accepted"), *present]:
            by_chair = person != chair and (
                status == "by_phone" and rng.random() < 0.7 or rng.random() < 0.03
            )
            for _ in range(1 if by_chair else rng.randrange(1, 3)):
                self.add(
                    Contribution,
                    discussion_id=did,
                    person_id=person,
                    agency=agency,
                    stage=rng.choice(self.stages[:4]),
                    text=FICTION,
                    via="phone_entered_by_chair" if by_chair else "thread",
                    entered_by_id=chair if by_chair else None,
                    created_at=started + timedelta(minutes=rng.randrange(1, 60)),
                )
