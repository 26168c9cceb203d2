"""The sample record in docs/: a fictional case, exported as JSON and as a picture of the PDF's first page.

    python -m bot.records.samples          # writes docs/record-sample.json and docs/record-sample.png

Run it after changing the record, its JSON or the PDF's layout, and commit what it writes; a test fails
when docs/record-sample.json is not what this module makes. The picture needs pypdfium2 (a dev
dependency). Every name, reference and event here is invented.
"""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from dialogs import record_json
from dialogs import record_model as m

DOCS = Path(__file__).resolve().parents[2] / "docs"
SAMPLE_JSON = DOCS / "record-sample.json"
SAMPLE_PNG = DOCS / "record-sample.png"
LONDON = ZoneInfo("Europe/London")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=LONDON)


PLAN = (
    (
        "further_information",
        "Further information required and how it will be obtained",
        "GP and health visitor records (Dr Shah, by 12 March); school attendance since September.",
    ),
    (
        "scope",
        "Scope of the enquiry, including other children at possible risk",
        "Ellis and the younger sibling (own record, CR-100235) who lives in the same household.",
    ),
    (
        "child_interview",
        "When, how and by whom the child will be interviewed, and whether a video interview will be used",
        "Joint visit today; an Achieving Best Evidence interview on 11 March at the Maple Suite.",
    ),
    (
        "informing_parents",
        "When and how the parents / carers will be told of the concerns and the planned action",
        "Mother told by the social worker at the joint visit, after the child is seen.",
    ),
    (
        "specialist_assessment",
        "Need for any paediatric or specialist assessment",
        "Child protection medical at the hospital today, arranged by Dr Shah.",
    ),
    (
        "consent_refused",
        "Further action if consent to interview or medical assessment is refused",
        "Reconvene at once with legal advice present.",
    ),
    (
        "childs_wishes",
        "How the child's wishes and feelings will be found out, and their communication needs met",
        "Seen alone by the social worker; Ellis prefers to draw, so paper and pens are taken.",
    ),
    (
        "other_children_in_contact",
        "Needs of other children in contact with the alleged abuser(s)",
        "Police check for children in the partner's other household.",
    ),
    (
        "interview_referrer",
        "Whether to interview the referrer or anyone else",
        "The class teacher who saw the bruising gives a statement to the police.",
    ),
    (
        "interim_support",
        "Other actions to protect the child or provide interim services and support",
        "The partner has agreed to stay with his brother while the enquiry is made.",
    ),
    ("observe_home", "Need to observe the family home", None),
    (
        "family_strengths",
        "Strengths in the family and protective factors that may reduce risk",
        "Mother sought help from the school herself; grandmother nearby and supportive.",
    ),
    (
        "information_sharing",
        "What information may be shared, with whom and when",
        "The school is told the outcome today; the GP practice receives the record.",
    ),
    ("legal_action", "Any legal action required", "None at present."),
    ("disciplinary", "Implications for disciplinary action", None),
    (
        "criminal_investigation",
        "Conduct and timing of any criminal investigation",
        "DC Morgan leads; the partner is interviewed after the medical.",
    ),
    (
        "action_owners",
        "Timescales, agency and person responsible for each agreed action",
        "As in the actions below.",
    ),
    (
        "contingency",
        "Contingency plans",
        "If the partner returns to the home, police attend and the chair reconvenes the same day.",
    ),
    (
        "review",
        "How and when completion of the agreed actions will be reviewed",
        "Team manager checks progress daily until the final discussion.",
    ),
)

NOT_APPLICABLE = {
    "observe_home": "not a neglect concern",
    "disciplinary": "no professional or carer in a position of trust is involved",
}


def sample_record() -> m.Record:
    """A first strategy discussion about a fictional child, held by video on a Tuesday morning: S47
    joint with the police, a school that sent apologies, and an amendment (version 2)."""
    return m.Record(
        schema=m.SCHEMA_VERSION,
        case_ref="CR-100234",
        discussion_id=7,
        discussion_number=1,
        discussion="first",
        format="Meeting (in person or video)",
        convened_at=at(10, 9, 5),
        proposed_at=at(10, 11),
        out_of_hours=False,
        chair="Sam Okafor",
        attendance=(
            m.Attendee("Sam Okafor", "Team manager", "Children's social care", True, m.TookPart.MEETING),
            m.Attendee("Riley Evans", "Social worker", "Children's social care", False, m.TookPart.MEETING),
            m.Attendee("DC Alex Morgan", "Police officer", "Police", False, m.TookPart.MEETING),
            m.Attendee(
                "DS Chris Patel",
                "Police safeguarding manager",
                "Police",
                False,
                m.TookPart.DECLINED,
                reason="On another strategy discussion at the same time.",
                directions="DC Morgan to lead the joint visit; call me before the partner is interviewed.",
            ),
            m.Attendee("Dr Priya Shah", "Named GP for safeguarding", "Health", False, m.TookPart.PHONE),
            m.Attendee(
                "Jo Carter",
                "Designated safeguarding lead",
                "Education",
                False,
                m.TookPart.ABSENT,
                reason="Teaching all morning; the school's information was sent in writing.",
            ),
        ),
        quorum_met=True,
        requirements=(
            m.Requirement("Quorum: Children's social care", True),
            m.Requirement("Quorum: Police", True),
            m.Requirement("Quorum: Health", True),
            m.Requirement(
                "A police safeguarding manager must be involved in every case of possible injury or harm",
                True,
                "gave directions",
            ),
        ),
        circumstances={
            "Possible injury or harm": True,
            "Medical implications or paediatric examination": True,
            "Child receiving hospital services": False,
            "Child is an in-patient": False,
            "Complex case": False,
        },
        category="Physical abuse",
        concern="Ellis (8) told the class teacher that her mother's partner grabbed her arm on Sunday; "
        "fingertip bruising to the upper left arm was seen at 08:50.",
        contributions=(
            m.Contribution(
                "Riley Evans",
                "Children's social care",
                at(10, 11, 4),
                "information",
                "Known to the service in 2024 (Child in Need, closed in January 2025).",
            ),
            m.Contribution(
                "DC Alex Morgan",
                "Police",
                at(10, 11, 9),
                "information",
                "Two domestic incidents at the address in 2025; the partner was arrested for "
                "the second, no further action.",
            ),
            m.Contribution(
                "Dr Priya Shah",
                "Health",
                at(10, 11, 13),
                "information",
                "Immunisations up to date; seen in December for a chest infection, no marks noted.",
                entered_by_chair=True,
            ),
            m.Contribution(
                "Jo Carter",
                "Education",
                at(10, 11, 15),
                "information",
                "From the school in writing: attendance 91%; Ellis has seemed withdrawn since half term.",
                entered_by_chair=True,
            ),
        ),
        decision=m.Decision(
            outcome="s47_joint",
            label="S47 enquiry (joint with police, within a Single Assessment)",
            reasons="A disclosure of physical harm by an adult in the household, with injuries seen.",
            risks="The partner's return to the home; the history of domestic abuse.",
            starts_s47=True,
            decided_by="Sam Okafor",
            decided_at=at(10, 11, 38),
        ),
        parents_told="Mother told by Riley Evans at the joint visit this afternoon; Ellis told in words "
        "she understands what happens next.",
        plan=m.Plan(
            answers=tuple(
                m.PlanAnswer(item, label, answer, None if answer else NOT_APPLICABLE[item])
                for item, label, answer in PLAN
            ),
            icpc_planned_on=date(2026, 3, 27),
        ),
        actions=(
            m.Action(
                "Joint visit to see Ellis and her mother",
                "Riley Evans",
                "Children's social care",
                date(2026, 3, 10),
                "done",
                at(10, 15, 20),
            ),
            m.Action("Child protection medical", "Dr Priya Shah", "Health", date(2026, 3, 10), "open"),
            m.Action(
                "Statement from the class teacher", "DC Alex Morgan", "Police", date(2026, 3, 12), "open"
            ),
        ),
        deadlines=(
            m.Deadline(
                "meeting",
                "Strategy discussion to be held",
                at(11, 9, 5),
                m.Outcome.MET,
                at(10, 11),
                "the discussion started",
            ),
            m.Deadline(
                "record_circulation",
                "Record to be circulated",
                at(11, 23, 59),
                m.Outcome.MET,
                at(10, 12, 2),
                "the signed-off record was sent to everyone who took part (4)",
            ),
            m.Deadline(
                "outcome_notification",
                "Referrer and absent agencies to be told the outcome",
                at(11, 23, 59),
                m.Outcome.LATE,
                at(12, 9, 30),
                "the outcome was recorded as told",
                "The school was closed for an inset day on 11 March.",
            ),
            m.Deadline("action", "Agreed action to be completed", at(12, 23, 59), m.Outcome.OPEN),
            m.Deadline(
                "icpc", "Initial child protection conference to be held", at(31, 23, 59), m.Outcome.OPEN
            ),
        ),
        monitoring="Sam Okafor (team manager) reviews progress daily in supervision until the final "
        "strategy discussion; the police safeguarding manager is told of any change.",
        siblings=("CR-100235",),
        started_at=at(10, 11),
        ended_at=at(10, 11, 38),
        minutes=38,
        next_discussion_by=date(2026, 3, 24),
        conference=m.Conference(target=date(2026, 3, 31)),
        version=2,
        signed_off_by="Sam Okafor",
        signed_off_at=at(12, 9, 30),
        versions=(
            m.Version(1, "Sam Okafor", at(10, 12, 2), "signed off"),
            m.Version(
                2,
                "Sam Okafor",
                at(12, 9, 30),
                "Addendum Thu 12 Mar 2026, 09:30: timescale met late\n- referrer and absent agencies "
                "to be told the outcome: The school was closed for an inset day on 11 March.",
            ),
        ),
        circulation=(
            m.Circulated("Riley Evans", "record", at(10, 12, 2), at(10, 12, 10)),
            m.Circulated("DC Alex Morgan", "record", at(10, 12, 2), at(10, 13, 45)),
            m.Circulated("DS Chris Patel", "outcome_notification", at(10, 12, 2), at(10, 16, 5)),
            m.Circulated("Dr Priya Shah", "record", at(10, 12, 2)),
            m.Circulated("Jo Carter", "outcome_notification", at(12, 9, 30)),
        ),
    )


def sample_json() -> bytes:
    return record_json.to_json(sample_record()) + b"\n"


def first_page_png(pdf: bytes, scale: float = 1.5) -> bytes:
    """The first page of `pdf` as a PNG (pypdfium2, a dev dependency)."""
    import io

    import pypdfium2

    document = pypdfium2.PdfDocument(pdf)
    try:
        image = document[0].render(scale=scale).to_pil()
    finally:
        document.close()
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def main() -> None:
    from bot.records.pdf import render_pdf

    SAMPLE_JSON.write_bytes(sample_json())
    SAMPLE_PNG.write_bytes(first_page_png(render_pdf(sample_record())))
    for path in (SAMPLE_JSON, SAMPLE_PNG):
        print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
