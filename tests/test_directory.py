"""The directory: who is who, on both databases, and `python -m bot directory` as operators run it."""

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import select

from dialogs import directory
from dialogs.directory import DirectoryError
from dialogs.model import Actor
from dialogs.procedure import load_procedure
from storage.models import AuditEvent
from tests.conftest import REPO

PROCEDURE = load_procedure()
RULES = directory.parse_domain_rules("police.uk=police, nhs.net=health")


async def _add(db, **kw):
    async with db.session() as s:
        return await directory.add_person(s, PROCEDURE, **kw)


async def _people(db):
    async with db.session() as s:
        return await directory.list_people(s)


async def _audit(db, action):
    async with db.session() as s:
        return list((await s.execute(select(AuditEvent).where(AuditEvent.action == action))).scalars())


# --- add, list, resolve -----------------------------------------------------------------------


async def test_add_list_and_resolve(db):
    pc = await _add(
        db,
        name="Pat Constable",
        email="Pat.Constable@Kent.Police.UK",
        agency="police",
        role="police_officer",
        identities=[("slack", "U111", ""), ("teams", "29:abc", "tenant-1")],
    )
    sw = await _add(db, name="Sol Social", agency="social_care", role="social_worker")
    await _add(db, name="Abe Officer", agency="police", role="police_manager")

    people = await _people(db)
    assert [(p.agency, p.display_name) for p in people] == [
        ("police", "Abe Officer"),
        ("police", "Pat Constable"),
        ("social_care", "Sol Social"),
    ]
    async with db.session() as s:
        assert (await directory.get_person(s, pc.id)).email == "pat.constable@kent.police.uk"
        assert await directory.get_person(s, 9999) is None
        assert await directory.resolve(s, "slack", "U111") == Actor(
            pc.id, "Pat Constable", "police", "police_officer"
        )
        assert (await directory.resolve(s, "teams", "29:abc", "tenant-1")).person_id == pc.id
        assert await directory.resolve(s, "slack", "U999") is None
        assert await directory.resolve(s, "teams", "U111") is None  # ids are per platform

    entries = await _audit(db, "directory.add")
    assert [e.detail for e in entries] == [
        {"person_id": pc.id, "agency": "police", "role": "police_officer"},
        {"person_id": sw.id, "agency": "social_care", "role": "social_worker"},
        {"person_id": sw.id + 1, "agency": "police", "role": "police_manager"},
    ]
    # No names or emails in the audit trail.
    assert "Pat" not in json.dumps([e.detail for e in entries]) and "police.uk" not in str(entries[0].detail)


async def test_tenant_matching(db):
    anywhere = await _add(
        db, name="Any Tenant", agency="health", role="health_professional", identities=[("teams", "29:x", "")]
    )
    only_t1 = await _add(
        db, name="Only T1", agency="health", role="paediatrician", identities=[("teams", "29:y", "t1")]
    )
    exact = await _add(
        db, name="Exact T2", agency="health", role="consultant", identities=[("teams", "29:x", "t2")]
    )
    async with db.session() as s:
        # Stored without a tenant: matches any tenant, and none.
        assert (await directory.resolve(s, "teams", "29:x", "t1")).person_id == anywhere.id
        assert (await directory.resolve(s, "teams", "29:x")).person_id == anywhere.id
        # Stored with a tenant: only that tenant.
        assert (await directory.resolve(s, "teams", "29:y", "t1")).person_id == only_t1.id
        assert await directory.resolve(s, "teams", "29:y", "t2") is None
        assert await directory.resolve(s, "teams", "29:y") is None
        # An exact tenant match wins over a tenant-less identity with the same id.
        assert (await directory.resolve(s, "teams", "29:x", "t2")).person_id == exact.id


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        (
            {"agency": "polic", "role": "police_officer"},
            "unknown agency 'polic'; accepted agencies: social_care, police",
        ),
        ({"agency": "police", "role": "constable"}, "unknown role 'constable'; accepted roles: team_manager"),
        (
            {"agency": "health", "role": "police_officer"},
            "the role 'police_officer' belongs to the agency 'police', not 'health'; roles in health: "
            "health_professional",
        ),
        ({"agency": "police", "role": "police_officer", "name": "  "}, "a name is required"),
        ({"agency": "police", "role": "police_officer", "email": "not-an-email"}, "is not an email address"),
        (
            {"agency": "police", "role": "police_officer", "identities": [("whatsapp", "1", "")]},
            "unknown platform 'whatsapp'; accepted platforms: slack, teams, playground",
        ),
        (
            {"agency": "police", "role": "police_officer", "manager_email": "boss@example.org"},
            "the manager boss@example.org is not in the directory",
        ),
    ],
)
async def test_bad_input_is_refused_politely_and_nothing_is_added(db, kw, message):
    with pytest.raises(DirectoryError) as err:
        await _add(db, **{"name": "Someone", **kw})
    assert message in str(err.value)
    assert await _people(db) == []


async def test_referrer_and_other_agency_roles_may_sit_in_any_agency(db):
    referrer = await _add(db, name="School DSL", agency="education", role="referrer")
    specialist = await _add(db, name="Specialist", agency="health", role="specialist")
    assert (referrer.agency, specialist.agency) == ("education", "health")


async def test_duplicate_email_is_refused(db):
    await _add(db, name="First", email="same@example.org", agency="police", role="police_officer")
    with pytest.raises(DirectoryError, match="same@example.org is already in the directory"):
        await _add(db, name="Second", email="SAME@example.org", agency="health", role="consultant")
    assert [p.display_name for p in await _people(db)] == ["First"]


async def test_link_identity(db):
    a = await _add(db, name="A", agency="police", role="police_officer")
    b = await _add(db, name="B", agency="police", role="police_officer")
    async with db.session() as s:
        first = await directory.link_identity(s, a.id, "slack", "UA", "T1")
        again = await directory.link_identity(s, a.id, "slack", "UA", "T1")
        assert first.id == again.id
    with pytest.raises(DirectoryError, match=f"already belongs to person {a.id}"):
        async with db.session() as s:
            await directory.link_identity(s, b.id, "slack", "UA", "T1")
    with pytest.raises(DirectoryError, match="no person 999"):
        async with db.session() as s:
            await directory.link_identity(s, 999, "slack", "UZ")
    async with db.session() as s:
        assert (await directory.resolve(s, "slack", "UA", "T1")).person_id == a.id
    assert [e.detail for e in await _audit(db, "directory.link")] == [
        {"person_id": a.id, "platform": "slack"}
    ]


# --- CSV import -------------------------------------------------------------------------------


def _csv(tmp_path, text, name="people.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


async def _import(db, path):
    async with db.session() as s:
        return await directory.import_csv(s, PROCEDURE, path)


GOOD = (
    "name,email,agency,role,slack_id,teams_id,manager_email\n"
    "Dana Duty,dana@kent.gov.uk,social_care,duty_manager,U1,,tam@kent.gov.uk\n"
    "Tam Team,tam@kent.gov.uk,social_care,team_manager,,29:tam,\n"
    "Pat Constable,pat@kent.police.uk,police,police_officer,U3,,\n"
)


async def test_import_adds_everyone_and_resolves_managers_later_in_the_file(db, tmp_path):
    assert await _import(db, _csv(tmp_path, GOOD)) == 3
    people = {p.email: p for p in await _people(db)}
    assert set(people) == {"dana@kent.gov.uk", "tam@kent.gov.uk", "pat@kent.police.uk"}
    assert people["dana@kent.gov.uk"].manager_id == people["tam@kent.gov.uk"].id
    assert people["tam@kent.gov.uk"].manager_id is None
    async with db.session() as s:
        assert (await directory.resolve(s, "slack", "U1", "any-workspace")).name == "Dana Duty"
        assert (await directory.resolve(s, "teams", "29:tam")).role == "team_manager"


async def test_import_manager_already_in_the_directory(db, tmp_path):
    boss = await _add(
        db, name="Boss", email="boss@kent.gov.uk", agency="social_care", role="district_manager"
    )
    text = (
        "name,email,agency,role,manager_email\n"
        "New Worker,new@kent.gov.uk,social_care,social_worker,boss@kent.gov.uk\n"
    )
    assert await _import(db, _csv(tmp_path, text)) == 1
    new = next(p for p in await _people(db) if p.email == "new@kent.gov.uk")
    assert new.manager_id == boss.id


async def test_import_is_all_or_nothing_and_names_every_bad_line(db, tmp_path):
    text = (
        "name,email,agency,role,slack_id,teams_id,manager_email\n"
        "Good One,good@example.org,police,police_officer,,,\n"  # line 2
        "Bad Agency,bad1@example.org,polic,police_officer,,,\n"  # line 3
        "Good Two,good2@example.org,health,consultant,,,\n"  # line 4
        ",bad2@example.org,health,consultant,,,\n"  # line 5: no name
        "Repeat,good@example.org,health,consultant,,,\n"  # line 6: email also on line 2
        "No Boss,nb@example.org,health,consultant,,,ghost@example.org\n"  # line 7
        "Mismatch,mm@example.org,health,police_officer,,,\n"  # line 8
    )
    with pytest.raises(DirectoryError) as err:
        await _import(db, _csv(tmp_path, text))
    message = str(err.value)
    assert "nothing was imported" in message and "5 row(s)" in message
    assert "line 3: unknown agency 'polic'" in message
    assert "line 5: a name is required" in message
    assert "line 6: good@example.org is also on line 2" in message
    assert "line 7: the manager ghost@example.org is neither in this file nor in the directory" in message
    assert "line 8: the role 'police_officer' belongs to the agency 'police'" in message
    assert "line 2" not in message.replace("also on line 2", "") and "line 4" not in message
    assert "\n" not in message  # one line for the command line
    assert await _people(db) == []


async def test_import_header_is_required(db, tmp_path):
    with pytest.raises(DirectoryError, match="line 1 .*missing column.*email.*unknown column.*mail"):
        await _import(db, _csv(tmp_path, "name,mail,agency,role\nA,a@example.org,police,police_officer\n"))
    with pytest.raises(DirectoryError, match="is empty"):
        await _import(db, _csv(tmp_path, ""))
    with pytest.raises(DirectoryError, match="no file at"):
        await _import(db, tmp_path / "missing.csv")


async def test_import_refuses_a_platform_id_that_belongs_to_someone_else(db, tmp_path):
    await _add(
        db,
        name="Owner",
        email="owner@example.org",
        agency="police",
        role="police_officer",
        identities=[("slack", "U1", "")],
    )
    text = "name,email,agency,role,slack_id\nOther,other@example.org,police,police_officer,U1\n"
    with pytest.raises(DirectoryError, match="line 2: the slack id already belongs to someone else"):
        await _import(db, _csv(tmp_path, text))


async def test_reimport_updates_instead_of_failing(db, tmp_path):
    await _import(db, _csv(tmp_path, GOOD))
    before = {p.email: p.id for p in await _people(db)}
    changed = GOOD.replace(
        "Pat Constable,pat@kent.police.uk,police,police_officer",
        "Pat C,pat@kent.police.uk,police,police_manager",
    )
    changed += "Hana Health,hana@nhs.net,health,health_professional,,,\n"
    assert await _import(db, _csv(tmp_path, changed, "again.csv")) == 4
    people = {p.email: p for p in await _people(db)}
    assert {e: people[e].id for e in before} == before  # same people, not copies
    assert (people["pat@kent.police.uk"].display_name, people["pat@kent.police.uk"].role) == (
        "Pat C",
        "police_manager",
    )
    assert "hana@nhs.net" in people
    updates = await _audit(db, "directory.update")
    assert {e.detail["person_id"] for e in updates} == set(before.values())
    async with db.session() as s:
        assert (await directory.resolve(s, "slack", "U3")).role == "police_manager"


# --- email-domain rules -----------------------------------------------------------------------


def test_parse_domain_rules():
    assert directory.parse_domain_rules(" police.uk = police ,nhs.net=health,, ") == {
        "police.uk": "police",
        "nhs.net": "health",
    }
    assert directory.parse_domain_rules("") == {}
    for bad in ("police.uk", "police.uk=", "=police", "police uk=police", "police.uk=Police!"):
        with pytest.raises(DirectoryError, match="is not a domain rule"):
            directory.parse_domain_rules(f"nhs.net=health,{bad}")
    with pytest.raises(
        DirectoryError, match="'police.uk=polis' names an unknown agency; accepted agencies: a, b"
    ):
        directory.parse_domain_rules("police.uk=polis", agencies=["a", "b"])
    with pytest.raises(DirectoryError, match="more than one rule"):
        directory.parse_domain_rules("police.uk=police,POLICE.uk=health")


def test_agency_for_email_matches_domain_suffixes():
    rules = directory.parse_domain_rules("police.uk=police,nhs.uk=health,special.nhs.uk=other")
    assert directory.agency_for_email("a@police.uk", rules) == "police"
    assert directory.agency_for_email("A@Kent.Police.UK", rules) == "police"
    assert directory.agency_for_email("a@notpolice.uk", rules) is None
    assert directory.agency_for_email("a@police.uk.evil.com", rules) is None
    assert directory.agency_for_email("a@x.special.nhs.uk", rules) == "other"  # the longest rule wins
    assert directory.agency_for_email("not-an-email", rules) is None
    assert directory.agency_for_email(None, rules) is None


def test_default_roles_exist_in_the_shipped_procedure():
    for agency, role in directory.DEFAULT_ROLE_FOR_AGENCY.items():
        assert PROCEDURE.role(role).agency == agency


async def _register(db, **kw):
    async with db.session() as s:
        return await directory.resolve_or_register(s, PROCEDURE, rules=RULES, **kw)


async def test_resolve_or_register_known_identity(db):
    known = await _add(
        db, name="Known", agency="police", role="police_manager", identities=[("slack", "UK1", "")]
    )
    actor = await _register(
        db, platform="slack", external_id="UK1", tenant="T", email="other@nhs.net", name="X"
    )
    assert actor == Actor(known.id, "Known", "police", "police_manager")
    assert len(await _people(db)) == 1


async def test_resolve_or_register_links_a_known_email(db):
    known = await _add(db, name="Known", email="known@example.org", agency="health", role="paediatrician")
    actor = await _register(
        db,
        platform="teams",
        external_id="29:new",
        tenant="T9",
        email="Known@Example.org",
        name="Profile Name",
    )
    assert actor == Actor(known.id, "Known", "health", "paediatrician")
    async with db.session() as s:
        assert (await directory.resolve(s, "teams", "29:new", "T9")).person_id == known.id
        assert await directory.resolve(s, "teams", "29:new", "other-tenant") is None
    assert len(await _people(db)) == 1


async def test_resolve_or_register_adds_someone_from_a_known_domain(db):
    actor = await _register(
        db, platform="slack", external_id="UNEW", email="new@kent.police.uk", name="New Officer"
    )
    assert (actor.name, actor.agency, actor.role) == ("New Officer", "police", "police_officer")
    (person,) = await _people(db)
    assert (person.id, person.email) == (actor.person_id, "new@kent.police.uk")
    (entry,) = await _audit(db, "directory.auto_add")
    assert entry.detail == {"person_id": person.id, "agency": "police", "role": "police_officer"}
    assert entry.channel == "slack"
    async with db.session() as s:
        assert await directory.resolve(s, "slack", "UNEW") == actor


@pytest.mark.parametrize("email", ["someone@gmail.com", "someone@notpolice.uk", None, "garbage"])
async def test_resolve_or_register_unknown_person_is_not_added(db, email):
    assert await _register(db, platform="slack", external_id="U0", email=email, name="Stranger") is None
    assert await _people(db) == []


# --- the playground's cast --------------------------------------------------------------------


async def test_seed_demo_is_idempotent_and_complete(db):
    async with db.session() as s:
        assert await directory.seed_demo(s, PROCEDURE) == len(directory.DEMO_PEOPLE)
    async with db.session() as s:
        assert await directory.seed_demo(s, PROCEDURE) == 0
    people = await _people(db)
    assert len(people) == len(directory.DEMO_PEOPLE)
    roles = {p.role for p in people}
    assert {
        "duty_manager",
        "team_manager",
        "social_worker",
        "police_officer",
        "police_manager",
        "health_professional",
        "paediatrician",
        "consultant",
        "referrer",
        "ooh_manager",
        "ooh_worker",
        "district_manager",
    } <= roles
    assert all(p.email.endswith("@example.org") for p in people)
    by_role = {p.role: p for p in people}
    assert by_role["duty_manager"].manager_id == by_role["team_manager"].id
    assert by_role["referrer"].agency == "education"
    async with db.session() as s:
        for demo in directory.DEMO_PEOPLE:
            actor = await directory.resolve(s, "playground", demo.slug)
            assert (actor.name, actor.role) == (demo.name, demo.role)


async def test_seed_demo_leaves_a_directory_in_use_alone(db):
    await _add(db, name="Real Person", agency="police", role="police_officer")
    async with db.session() as s:
        assert await directory.seed_demo(s, PROCEDURE) == 0
    assert len(await _people(db)) == 1


# --- the command line -------------------------------------------------------------------------


def cli(tmp_path, *args):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'x.db'}"}
    return subprocess.run(
        [sys.executable, "-m", "bot", "directory", *args], cwd=REPO, env=env, capture_output=True, text=True
    )


def test_cli_add_and_list(tmp_path):
    tam = [
        "--name",
        "Tam Team",
        "--agency",
        "social_care",
        "--role",
        "team_manager",
        "--email",
        "tam@example.org",
    ]
    out = cli(tmp_path, "add", *tam)
    assert out.returncode == 0, out.stderr
    dana = [
        "--name",
        "Dana Duty",
        "--agency",
        "social_care",
        "--role",
        "duty_manager",
        "--email",
        "dana@example.org",
    ]
    ids = [
        "--slack-id",
        "U123",
        "--teams-id",
        "29:abc",
        "--tenant",
        "T1",
        "--manager-email",
        "tam@example.org",
    ]
    out = cli(tmp_path, "add", *dana, *ids)
    assert out.returncode == 0, out.stderr
    assert "Dana Duty" in out.stdout

    listed = cli(tmp_path, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    data = {p["name"]: p for p in json.loads(listed.stdout)}
    assert data["Dana Duty"]["manager_email"] == "tam@example.org"
    assert data["Dana Duty"]["identities"] == [
        {"platform": "slack", "external_id": "U123", "tenant": "T1"},
        {"platform": "teams", "external_id": "29:abc", "tenant": "T1"},
    ]
    assert (data["Tam Team"]["agency"], data["Tam Team"]["role"]) == ("social_care", "team_manager")

    table = cli(tmp_path, "list")
    assert table.returncode == 0
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["ID", "Name", "Email", "Agency", "Role", "Manager", "Ids"]
    dana = next(line for line in lines if "Dana Duty" in line)
    assert "duty_manager" in dana and "slack:U123@T1" in dana and "tam@example.org" in dana
    assert lines[-1] == "2 people"


def test_cli_errors_are_one_polite_line(tmp_path):
    out = cli(tmp_path, "add", "--name", "X", "--agency", "police", "--role", "paediatrician")
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr.strip().splitlines() == [
        "error: the role 'paediatrician' belongs to the agency 'health', not 'police'; "
        "roles in police: police_officer, police_manager"
    ]
    out = cli(tmp_path, "import", str(tmp_path / "nope.csv"))
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1 and "no file at" in out.stderr


def test_cli_import(tmp_path):
    path = _csv(tmp_path, GOOD)
    out = cli(tmp_path, "import", str(path))
    assert out.returncode == 0, out.stderr
    assert "imported 3 people" in out.stdout
    bad = _csv(tmp_path, GOOD + "Bad,bad@example.org,nowhere,police_officer,,,\n", "bad.csv")
    out = cli(tmp_path, "import", str(bad))
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1
    assert "line 5: unknown agency 'nowhere'" in out.stderr and "nothing was imported" in out.stderr
    listed = json.loads(cli(tmp_path, "list", "--json").stdout)
    assert len(listed) == 3
