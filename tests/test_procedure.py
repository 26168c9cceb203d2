"""The procedure configuration: the shipped default, a council's own copy, and broken files."""

from datetime import datetime

import pytest
from pydantic import ValidationError

from dialogs.procedure import DEFAULT_PROCEDURE_FILE, Procedure, ProcedureError, load_procedure

# A small valid council file; the broken-file tests change one line of it and assert the exact line
# number reported, so keep the line numbers in the comments true.
MINIMAL = """\
name: Test council
version: 3
office_hours:
  days: [mon, tue, wed, thu, fri]
  start: "08:30"
  end: "17:30"
timescales:
  meeting_within_hours: 12
  record_circulation_working_days: 2
  outcome_notification_working_days: 2
  icpc_working_days: 10
  further_discussion_working_days: 10
reminders:
  lead_hours: 4
  morning_of_due_day: "07:45"
  escalate_after_hours: 1
  escalate_to: duty_channel
  invitation_unanswered_after_minutes: 30
  quorum_check_before_minutes: 15
  snooze_options: [10, 30]
agencies:
  - {id: social_care, label: Social care}
  - {id: police, label: Police}
  - {id: health, label: Health}
roles:
  - {id: team_manager, label: Team manager, agency: social_care, may_convene: true, may_chair: true}
  - {id: police_manager, label: Police manager, agency: police}
quorum:
  in_hours: [social_care, police, health]
  out_of_hours: [referring_agency, police]
categories:
  - {id: neglect, label: Neglect, meeting_required: true}
complex_case_requires_meeting: false
requirements:
  - id: police_manager_possible_injury
    when: possible_injury
    role: police_manager
    how: attend
    if_absent: directions_and_reason
    label: Police manager involved
agenda:
  - {id: concern, title: Concern, prompt: What is the concern}
  - {id: information, title: Information, prompt: Share}
  - {id: immediate_protection, title: Protection, prompt: Protect}
  - {id: decision, title: Decision, prompt: Decide}
  - {id: plan, title: Plan, prompt: Plan}
  - {id: record, title: Record, prompt: Record}
outcomes:
  - {id: s47, label: S47, starts_s47: true, requires: [reasons, plan]}
s47_checklist:
  - {id: scope, label: Scope}
cultural_context_prompt: Consider the family's background.
"""


def write(tmp_path, text, name="council.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def with_line(text, line, new):
    """`text` with its 1-based `line` replaced by `new` (which may hold several lines, or none)."""
    lines = text.splitlines()
    lines[line - 1 : line] = new.splitlines()
    return "\n".join(lines) + "\n"


def error_for(tmp_path, text):
    with pytest.raises(ProcedureError) as info:
        load_procedure(write(tmp_path, text))
    return str(info.value)


@pytest.fixture(scope="module")
def default():
    return load_procedure()


# --- the shipped default -------------------------------------------------------------------------


def test_default_is_the_shipped_file(default):
    assert DEFAULT_PROCEDURE_FILE.is_file()
    assert load_procedure(DEFAULT_PROCEDURE_FILE) == default
    assert load_procedure(str(DEFAULT_PROCEDURE_FILE)) == default
    assert "nation" not in type(default).model_fields  # one source: the NATION setting


def test_default_timescales(default):
    t = default.timescales
    assert (t.meeting_within_hours, t.icpc_working_days, t.further_discussion_working_days) == (24, 15, 15)
    assert (t.record_circulation_working_days, t.outcome_notification_working_days) == (1, 1)


def test_default_quorum(default):
    assert default.quorum.in_hours == ("social_care", "police", "health")
    assert default.quorum.out_of_hours == ("referring_agency", "police")


def test_default_agencies_and_roles(default):
    assert {"social_care", "police", "health", "education", "legal", "probation", "housing", "other"} <= {
        a.id for a in default.agencies
    }
    assert default.chair_roles() == {"team_manager", "deputy_team_manager", "duty_manager", "ooh_manager"}
    assert default.convener_roles() == default.chair_roles()
    assert default.role("ooh_manager").out_of_hours_only
    assert not default.role("team_manager").out_of_hours_only
    assert default.role("paediatrician").agency == "health"
    assert default.role("referrer").agency == "other"
    assert "Combined Safeguarding Team" in default.role("police_manager").label
    assert "Operational Safeguarding Lead" in default.role("district_manager").label
    assert default.agency("police").label == "Police"


def test_default_meeting_required_categories(default):
    required = {c.id for c in default.categories if c.meeting_required}
    assert required == {
        "neglect",
        "fabricated_or_induced_illness",
        "allegation_against_professional",
        "unexpected_death",
    }
    assert {"physical", "sexual", "emotional", "other"} <= {c.id for c in default.categories}
    assert not default.category("physical").meeting_required
    assert default.complex_case_requires_meeting


def test_default_requirements(default):
    got = {(r.when, r.role, r.how, r.if_absent) for r in default.requirements}
    assert got == {
        ("possible_injury", "police_manager", "attend", "directions_and_reason"),
        ("medical_implications", "paediatrician", "attend", "reason"),
        ("hospital_involvement", "consultant", "attend", "reason"),
        ("inpatient", "ward_nurse", "attend", "reason"),
        ("complex", "district_manager", "consult", None),
    }


def test_default_agenda_and_outcomes(default):
    assert [s.id for s in default.agenda] == [
        "concern",
        "information",
        "immediate_protection",
        "decision",
        "plan",
        "record",
    ]
    assert default.agenda[1].prompt.startswith("Each agency, share what is pertinent")
    assert {o.id for o in default.outcomes if o.starts_s47} == {"s47_single_agency", "s47_joint"}
    assert "plan" in default.outcome("s47_joint").requires
    assert "reconvene_date" in default.outcome("single_assessment").requires
    assert "alternative" in default.outcome("no_s47").requires
    assert all({"reasons", "risks"} <= set(o.requires) for o in default.outcomes)


def test_default_s47_checklist_has_every_item(default):
    assert [i.id for i in default.s47_checklist] == [
        "further_information",
        "scope",
        "child_interview",
        "informing_parents",
        "specialist_assessment",
        "consent_refused",
        "childs_wishes",
        "other_children_in_contact",
        "interview_referrer",
        "interim_support",
        "observe_home",
        "family_strengths",
        "information_sharing",
        "legal_action",
        "disciplinary",
        "criminal_investigation",
        "action_owners",
        "contingency",
        "review",
    ]
    labels = " ".join(f"{i.label} {i.help or ''}" for i in default.s47_checklist).lower()
    for phrase in (
        "other children",
        "video",
        "interpreter",
        "safe discharge",
        "neglect",
        "criminal investigation",
    ):
        assert phrase in labels
    assert "cultural" in default.cultural_context_prompt


def test_accessors_reject_unknown_ids(default):
    with pytest.raises(KeyError, match="unknown role 'nobody'"):
        default.role("nobody")
    with pytest.raises(KeyError):
        default.outcome("maybe")


def test_procedure_is_frozen(default):
    with pytest.raises(ValidationError):
        default.version = 2


# --- office hours --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "bank_holiday", "out"),
    [
        ("2025-06-02 10:00", False, False),  # Monday morning
        ("2025-06-02 17:30", False, True),
        ("2025-06-02 09:00", False, False),  # start is in hours
        ("2025-06-02 08:59", False, True),
        ("2025-06-02 16:59", False, False),
        ("2025-06-02 17:00", False, True),  # end is out of hours
        ("2025-06-07 10:00", False, True),  # Saturday
        ("2025-06-08 10:00", False, True),  # Sunday
        ("2025-08-25 10:00", True, True),  # summer bank holiday
    ],
)
def test_is_out_of_hours(default, local, bank_holiday, out):
    assert default.is_out_of_hours(datetime.fromisoformat(local), bank_holiday) is out


def test_bank_holiday_can_be_in_hours_when_a_council_says_so(tmp_path):
    text = with_line(MINIMAL, 6, '  end: "17:30"\n  bank_holidays_are_out_of_hours: false')
    p = load_procedure(write(tmp_path, text))
    assert not p.is_out_of_hours(datetime(2025, 8, 25, 10, 0), True)
    assert p.is_out_of_hours(datetime(2025, 8, 25, 8, 0), True)  # before this council's 08:30 start


# --- a council's own copy ------------------------------------------------------------------------


def test_council_minimal_copy_loads(tmp_path):
    p = load_procedure(write(tmp_path, MINIMAL))
    assert p.version == 3
    assert p.timescales.icpc_working_days == 10
    assert p.reminders.escalate_to == "duty_channel"
    assert p.reminders.snooze_options == (10, 30)
    assert p.office_hours.end.strftime("%H:%M") == "17:30"
    assert p.is_out_of_hours(datetime(2025, 6, 2, 8, 0), False)


def test_council_copy_of_default_with_changed_numbers_loads(tmp_path):
    text = DEFAULT_PROCEDURE_FILE.read_text(encoding="utf-8")
    for old, new in [
        ("icpc_working_days: 15", "icpc_working_days: 10"),
        ("meeting_within_hours: 24", "meeting_within_hours: 8"),
        ('start: "09:00"', 'start: "08:00"'),
        ("in_hours: [social_care, police, health]", "in_hours: [social_care, police]"),
    ]:
        assert old in text
        text = text.replace(old, new)
    p = load_procedure(write(tmp_path, text))
    assert p.timescales.icpc_working_days == 10
    assert p.timescales.meeting_within_hours == 8
    assert p.quorum.in_hours == ("social_care", "police")
    assert not p.is_out_of_hours(datetime(2025, 6, 2, 8, 30), False)


# --- broken files --------------------------------------------------------------------------------


def test_error_names_the_file(tmp_path):
    msg = error_for(tmp_path, with_line(MINIMAL, 11, "  icpc_working_days: 0"))
    assert msg == (
        f"procedure file {tmp_path / 'council.yaml'}, line 11, field timescales.icpc_working_days: "
        "Input should be greater than or equal to 1"
    )


@pytest.mark.parametrize(
    ("line", "new", "where", "message"),
    [
        # wrong type
        (11, "  icpc_working_days: ten", "line 11, field timescales.icpc_working_days", "valid integer"),
        (
            33,
            "complex_case_requires_meeting: perhaps",
            "line 33, field complex_case_requires_meeting",
            "boolean",
        ),
        (20, "  snooze_options: 30", "line 20, field reminders.snooze_options", "valid tuple"),
        # negative number
        (14, "  lead_hours: -4", "line 14, field reminders.lead_hours", "greater than or equal to 1"),
        (20, "  snooze_options: [10, -30]", "line 20, field reminders.snooze_options[1]", "greater than"),
        # unknown key
        (
            12,
            "  further_discussion_working_days: 10\n  icpc_days: 15",
            "line 13, field timescales.icpc_days",
            "Extra inputs are not permitted",
        ),
        (
            27,
            "  - {id: police_manager, label: Police manager, agency: police, may_sing: true}",
            "line 27, field roles[1].may_sing",
            "Extra inputs are not permitted",
        ),
        # missing key inside a section: the line of the section
        (11, "", "line 7, field timescales.icpc_working_days", "Field required"),
        # bad values
        (
            17,
            "  escalate_to: everyone",
            "line 17, field reminders.escalate_to",
            "'team_manager' or 'duty_channel'",
        ),
        (36, "    when: sometimes", "line 36, field requirements[0].when", "Input should be"),
        (
            49,
            "  - {id: s47, label: S47, starts_s47: true, requires: [reasons, vibes]}",
            "line 49, field outcomes[0].requires[1]",
            "Input should be",
        ),
        (22, "  - {id: Social-Care, label: Social care}", "line 22, field agencies[0].id", "pattern"),
        (4, "  days: [mon, funday]", "line 4, field office_hours.days[1]", "Input should be"),
        (4, "  days: [mon, mon]", "line 4, field office_hours.days", "more than once"),
        (51, "  - {id: scope, label: '  '}", "line 51, field s47_checklist[0].label", "at least 1 character"),
        # times
        (
            6,
            '  end: "25:00"',
            "line 6, field office_hours.end",
            "24-hour clock (00:00 to 23:59), got '25:00'",
        ),
        (15, '  morning_of_due_day: "7:45"', "line 15, field reminders.morning_of_due_day", "HH:MM"),
        (6, "  end: 17:30", "line 6, field office_hours.end", 'quoted "HH:MM"'),
        (6, '  end: "08:00"', "line 6, field office_hours.end", "end 08:00 must be after start 08:30"),
        # cross-references and duplicates
        (
            27,
            "  - {id: police_manager, label: Police manager, agency: polce}",
            "line 27, field roles[1].agency",
            "unknown agency 'polce'",
        ),
        (37, "    role: police_boss", "line 37, field requirements[0].role", "unknown role 'police_boss'"),
        (
            29,
            "  in_hours: [social_care, police, helth]",
            "line 29, field quorum.in_hours[2]",
            "unknown agency 'helth'",
        ),
        (24, "  - {id: police, label: Health}", "line 24, field agencies[2].id", "duplicate id 'police'"),
        (
            51,
            "  - {id: scope, label: Scope}\n  - {id: scope, label: Scope again}",
            "line 52, field s47_checklist[1].id",
            "duplicate id 'scope'",
        ),
        (24, "  - {id: referring_agency, label: Referrer}", "line 24, field agencies[2].id", "reserved"),
        (
            26,
            "  - {id: team_manager, label: Team manager, agency: social_care}",
            "line 25, field roles",
            "no role may chair",
        ),
        (46, "", "line 41, field agenda", "missing stage(s): plan"),
    ],
)
def test_broken_file_is_rejected_with_line_and_field(tmp_path, line, new, where, message):
    msg = error_for(tmp_path, with_line(MINIMAL, line, new))
    assert f"council.yaml, {where}: " in msg
    assert message in msg


def test_missing_section_reports_the_top_of_the_file(tmp_path):
    text = "\n".join(MINIMAL.splitlines()[:6] + MINIMAL.splitlines()[12:]) + "\n"  # drop timescales
    msg = error_for(tmp_path, text)
    assert msg.endswith("council.yaml, line 1, field timescales: Field required")


def test_agenda_stages_keep_their_order(tmp_path):
    text = with_line(
        MINIMAL, 45, "  - {id: plan, title: Plan, prompt: Plan}\n  - {id: decision, title: D, prompt: D}"
    )
    text = with_line(text, 47, "")
    assert "line 41, field agenda: stages must come in this order" in error_for(tmp_path, text)


def test_several_errors_report_the_first_and_count_the_rest(tmp_path):
    text = with_line(with_line(MINIMAL, 8, "  meeting_within_hours: 0"), 11, "  icpc_working_days: 0")
    msg = error_for(tmp_path, text)
    assert "line 8, field timescales.meeting_within_hours" in msg
    assert msg.endswith("(and 1 more)")


@pytest.mark.parametrize(
    ("line", "new", "where", "message"),
    [
        (14, "  lead_hours: 4: 5", "line 14", "mapping values are not allowed here"),
        (20, "  snooze_options: [10, 30", "line 21", "expected ',' or ']'"),
        (
            12,
            "  further_discussion_working_days: 10\n  icpc_working_days: 15",
            "line 13",
            "duplicate key 'icpc_working_days'",
        ),
    ],
)
def test_yaml_syntax_error_has_its_line(tmp_path, line, new, where, message):
    msg = error_for(tmp_path, with_line(MINIMAL, line, new))
    assert f"council.yaml, {where}: YAML syntax error: " in msg
    assert message in msg


def test_empty_or_unreadable_file(tmp_path):
    assert error_for(tmp_path, "# nothing here\n").endswith("council.yaml, line 1: the file is empty")
    assert "line 1, field (top level): Input should be a valid dictionary" in error_for(
        tmp_path, "- a list\n"
    )
    with pytest.raises(ProcedureError, match="nowhere.yaml: cannot be read"):
        load_procedure(tmp_path / "nowhere.yaml")


def test_cross_check_also_guards_direct_construction():
    data = load_procedure().model_dump()
    data["roles"][0]["agency"] = "nowhere"
    with pytest.raises(ValidationError, match=r"roles\[0\]\.agency: unknown agency 'nowhere'"):
        Procedure.model_validate(data)
