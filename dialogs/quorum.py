"""Who must take part in a discussion, and whether they have (pure functions over loaded rows)."""

from dataclasses import dataclass

from dialogs.procedure import REFERRING_AGENCY, Procedure
from storage.models import Discussion, Participant

PRESENT = {"accepted", "by_phone"}

STATUS_LABELS = {
    "invited": "invited",
    "accepted": "accepted",
    "declined": "declined",
    "by_phone": "joined by phone",
    "absent": "absent",
}


@dataclass(frozen=True)
class Needed:
    label: str
    met: bool
    note: str = ""
    quorum: bool = False  # part of the minimum attendance, rather than a role the case calls for


def quorum_agencies(procedure: Procedure, discussion: Discussion) -> list[str]:
    wanted = procedure.quorum.out_of_hours if discussion.out_of_hours else procedure.quorum.in_hours
    agencies = [discussion.referring_agency if a == REFERRING_AGENCY else a for a in wanted]
    return list(dict.fromkeys(agencies))  # the referrer may be police or health already


def _flags(discussion: Discussion) -> dict[str, bool]:
    return {
        "possible_injury": discussion.possible_injury,
        "medical_implications": discussion.medical_implications,
        "hospital_involvement": discussion.hospital_involvement,
        "inpatient": discussion.inpatient,
        "complex": discussion.complex_case,
    }


def required_attendees(
    procedure: Procedure, discussion: Discussion, participants: list[Participant]
) -> list[Needed]:
    """The quorum by agency, then each role the case's circumstances call for."""
    present = [
        p for p in participants if p.status in PRESENT or p.is_chair
    ]  # the chair takes part by definition
    needed = []
    for agency in quorum_agencies(procedure, discussion):
        label = _agency_label(procedure, agency)
        needed.append(Needed(f"Quorum: {label}", any(p.agency == agency for p in present), quorum=True))
    flags = _flags(discussion)
    for req in procedure.requirements:
        if not flags[req.when]:
            continue
        role_label = procedure.role(req.role).label
        if any(p.role == req.role for p in present):
            needed.append(Needed(req.label, True, "consulted" if req.how == "consult" else "taking part"))
            continue
        absent = [p for p in participants if p.role == req.role and p.status in ("declined", "absent")]
        recorded = [
            p for p in absent if p.reason and (req.if_absent != "directions_and_reason" or p.directions)
        ]
        if recorded and req.if_absent:
            what = "directions and reason" if req.if_absent == "directions_and_reason" else "reason"
            needed.append(Needed(req.label, True, f"not attending; {what} recorded"))
        else:
            needed.append(Needed(req.label, False, f"{role_label} needed"))
    return needed


def quorum_met(procedure: Procedure, discussion: Discussion, participants: list[Participant]) -> bool:
    return all(n.met for n in required_attendees(procedure, discussion, participants) if n.quorum)


def _agency_label(procedure: Procedure, agency: str) -> str:
    try:
        return procedure.agency(agency).label
    except KeyError:
        return agency
