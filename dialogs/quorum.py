"""Who must take part in a discussion, and whether they have (pure functions over loaded rows)."""

from dataclasses import dataclass

from dialogs.procedure import CIRCUMSTANCE_IDS, REFERRING_AGENCY, CircumstanceId, Procedure
from storage.models import Discussion, Participant

PRESENT = {"accepted", "by_phone"}

STATUS_LABELS = {
    "invited": "invited",
    "accepted": "accepted",
    "declined": "declined",
    "by_phone": "joined by phone",
    "absent": "absent",
}

# The discussion's column for each circumstance the procedure asks about.
COLUMNS: dict[CircumstanceId, str] = {
    "possible_injury": "possible_injury",
    "medical_implications": "medical_implications",
    "hospital_involvement": "hospital_involvement",
    "inpatient": "inpatient",
    "complex": "complex_case",
}


@dataclass(frozen=True)
class Needed:
    label: str
    met: bool
    note: str = ""
    quorum: bool = False  # part of the minimum attendance, rather than a role the case calls for


def circumstances(discussion: Discussion) -> dict[CircumstanceId, bool | None]:
    """Each circumstance's answer; None while it has not been answered."""
    return {c: getattr(discussion, COLUMNS[c]) for c in CIRCUMSTANCE_IDS}


def unanswered(procedure: Procedure, discussion: Discussion) -> list[str]:
    """The questions the procedure asks that have no answer yet (they must have one before deciding)."""
    answers = circumstances(discussion)
    return [c.question for c in procedure.circumstances if answers[c.id] is None]


def quorum_agencies(procedure: Procedure, discussion: Discussion) -> list[str]:
    wanted = procedure.quorum.out_of_hours if discussion.out_of_hours else procedure.quorum.in_hours
    agencies = [discussion.referring_agency if a == REFERRING_AGENCY else a for a in wanted]
    return list(dict.fromkeys(agencies))  # the referrer may be police or health already


def agencies_to_tell(
    procedure: Procedure, discussion: Discussion, participants: list[Participant]
) -> list[str]:
    """Who must be told the outcome: the referring agency and every quorum agency that did not take
    part; out of hours the day quorum's agencies too (health), whose day team picks it up."""
    wanted = [discussion.referring_agency, *quorum_agencies(procedure, discussion)]
    wanted += [discussion.referring_agency if a == REFERRING_AGENCY else a for a in procedure.quorum.in_hours]
    present = {p.agency for p in participants if p.status in PRESENT or p.is_chair}
    return [a for a in dict.fromkeys(wanted) if a not in present]


Answers = dict[CircumstanceId, bool | None]


def required_attendees(
    procedure: Procedure,
    discussion: Discussion,
    participants: list[Participant],
    answers: Answers | None = None,
) -> list[Needed]:
    """The quorum by agency, then each role the case's circumstances call for.

    A role the case calls for is met by someone taking part; a police safeguarding manager (whose
    rule asks for directions and a reason) also by their directions and reason for not attending.
    A paediatrician or consultant who declined does not meet it: their reason is noted only.
    """
    present = [p for p in participants if p.status in PRESENT or p.is_chair]  # the chair takes part
    needed = []
    for agency in quorum_agencies(procedure, discussion):
        label = _agency_label(procedure, agency)
        needed.append(Needed(f"Quorum: {label}", any(p.agency == agency for p in present), quorum=True))
    answers = answers if answers is not None else circumstances(discussion)
    for req in procedure.requirements:
        if not answers[req.when]:
            continue
        role_label = procedure.role(req.role).label
        if any(p.role == req.role for p in present):
            needed.append(Needed(req.label, True, "consulted" if req.how == "consult" else "taking part"))
            continue
        absent = [p for p in participants if p.role == req.role and p.status in ("declined", "absent")]
        if req.if_absent == "directions_and_reason" and any(p.reason and p.directions for p in absent):
            needed.append(Needed(req.label, True, "not attending; directions and reason recorded"))
        elif any(p.reason for p in absent):
            needed.append(Needed(req.label, False, "not attending; reason recorded"))
        else:
            needed.append(Needed(req.label, False, f"{role_label} needed"))
    return needed


def quorum_met(procedure: Procedure, discussion: Discussion, participants: list[Participant]) -> bool:
    return all(n.met for n in required_attendees(procedure, discussion, participants) if n.quorum)


def gate_unmet(
    procedure: Procedure,
    discussion: Discussion,
    participants: list[Participant],
    answers: Answers | None = None,
) -> list[str]:
    """What the decision waits for: the quorum and every role the case calls for."""
    return [n.label for n in required_attendees(procedure, discussion, participants, answers) if not n.met]


def _agency_label(procedure: Procedure, agency: str) -> str:
    try:
        return procedure.agency(agency).label
    except KeyError:
        return agency
