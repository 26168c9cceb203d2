"""A discussion about three siblings, walked through the playground's pages as people send them.

The same walk as tests/test_siblings.py, but over HTTP from the rendered pages: three case references
in the convene form, replies tagged with a child's reference, the decision form's `children` tick
boxes, a plan button naming one child, one record per child to acknowledge on each participant's page.
"""

import re

from storage.models import Child, Circulation, Contribution, ContributionChild, DueItem, RecordVersion
from tests.playground.test_flows import CONCERN, plan_answers, rows
from tests.playground.webpage import Page, values_for

REFS = ("LL-3001", "LL-3002", "LL-3003")
LABEL = ", ".join(REFS)
ELDEST_ONLY = "Disclosure at school by the eldest about the stepfather."
YOUNGEST_ONLY = "Health visitor: youngest is thriving, no marks seen."
ALL_THREE = "All three children were seen by the GP last month."
PARTICIPANTS = ("police_officer", "health_professional")
CONVENE = {
    "case_ref": LABEL,
    "category": "physical",
    "concern": CONCERN,
    "immediate_risk": "no",
    # Answered at convening, so police and health make the quorum and the decision asks nothing more.
    "c_possible_injury": "no",
    "c_medical_implications": "no",
    "c_hospital_involvement": "no",
    "c_inpatient": "no",
    "c_complex": "no",
    "referring_agency": "education",
}


def children_fact(page: Page) -> dict[str, str]:
    """The main post's "Children" list: each child's reference and their own status line."""
    post = page.card(LABEL, within="main-post")
    lines = [li.words for li in post.first("div", class_="text").all("li")]
    return dict(line.split(": ", 1) for line in lines if re.match(r"LL-\d{4}: ", line))


async def convene_and_start(pg) -> int:
    """Convened about the three from the form, police and health invited and accepted, started."""
    dm = await pg.as_("duty_manager")
    await dm.get("/")
    await dm.command("convene")
    page = await dm.fill(CONVENE)
    post = page.card(f"Strategy discussion {LABEL}", within="channel")
    did = int(post.first("a").attrs["href"].rsplit("/", 1)[1])
    await dm.press("Invite", post)
    form = dm.page.section("notices").first("form", action="/act/form")
    page = await dm.fill({"people": values_for(form, "people", "Pat Constable", "Hari Health")})
    assert "Invited 2 people." in page.notices()
    for slug in PARTICIPANTS:
        user = await pg.as_(slug)
        page = await user.get("/")
        page = await user.press("Accept", page.card(f"invitation: {LABEL}", within="direct"))
        assert f"you have accepted {LABEL}" in page.notices()
    await dm.get(f"/discussions/{did}")
    page = await dm.press("Start", dm.page.card(LABEL, within="main-post"))
    assert children_fact(page) == {ref: "decision to come; 2 deadlines open" for ref in REFS}
    return did


async def decide(dm, form, ref: str, **values) -> Page:
    """Tick only `ref` among the children and record `values` as that child's decision."""
    page = await dm.submit(form, {"children": values_for(form, "children", ref)} | values)
    assert f"Decision recorded for {ref}." in page.notices()
    return page


def notice_form(page: Page):
    return page.section("notices").all("form", action="/act/form")[-1]


def ticked(page: Page) -> list[str]:
    """The children ticked in the form among the notices."""
    boxes = notice_form(page).all("input", name="list.children")
    return [b.attrs["value"] for b in boxes if "checked" in b.attrs]


async def test_three_siblings_each_get_their_own_decision_plan_deadlines_and_record(playground):
    pg = playground
    did = await convene_and_start(pg)
    kids = {c.case_ref: c.id for c in await rows(pg, Child, discussion_id=did)}
    assert list(kids) == list(REFS)
    police, health = await pg.as_("police_officer"), await pg.as_("health_professional")
    await police.reply(did, f"LL-3001: {ELDEST_ONLY}")
    await health.reply(did, ALL_THREE)
    page = await health.reply(did, f"LL-3003: {YOUNGEST_ONLY}")
    assert f"LL-3003: {YOUNGEST_ONLY}" in page.section("thread").words
    # A reply tagged with a reference is about that child only (the tag itself is not kept).
    about = {}
    for link in await rows(pg, ContributionChild):
        about.setdefault(link.contribution_id, set()).add(link.child_id)
    tagged = {c.text: about.get(c.id, "all") for c in await rows(pg, Contribution, discussion_id=did)}
    assert tagged == {ELDEST_ONLY: {kids["LL-3001"]}, ALL_THREE: "all", YOUNGEST_ONLY: {kids["LL-3003"]}}

    # The chair decides child by child with the tick boxes. A form refused (nothing ticked, then no
    # reasons) comes back ticked as it was sent: none, then two, which reach the engine as a list.
    dm = await pg.as_("duty_manager")
    await dm.get(f"/discussions/{did}")
    page = await dm.press("Decide", dm.page.card(LABEL, within="main-post"))
    assert ticked(page) == [str(kids[r]) for r in REFS]
    page = await dm.submit(
        notice_form(page), {"children": [], "outcome": "s47_joint", "reasons": "R", "risks": "S"}
    )
    assert "Please choose at least one." in page.notices() and ticked(page) == []
    pair = values_for(notice_form(page), "children", "LL-3001", "LL-3002")
    page = await dm.submit(notice_form(page), {"children": pair, "reasons": ""})
    assert "Please fill this in." in page.notices() and ticked(page) == pair
    assert await rows(pg, DueItem, kind="icpc") == []  # nothing decided yet
    s47 = {"outcome": "s47_joint", "reasons": "Disclosure of physical harm.", "risks": "Stepfather's access."}
    page = await decide(dm, notice_form(page), "LL-3001", **s47)
    assert "Still to decide: LL-3002, LL-3003" in page.notices()
    page = await dm.press("Decide for the others", page.card("Still to decide", within="notices"))
    page = await decide(
        dm,
        notice_form(page),
        "LL-3002",
        outcome="single_assessment",
        reasons="Concern about neglect needs assessing first.",
        risks="Home conditions.",
        reconvene_on="2026-12-15",
    )
    page = await dm.press("Decide for the others", page.card("Still to decide", within="notices"))
    page = await decide(
        dm,
        notice_form(page),
        "LL-3003",
        outcome="no_s47",
        reasons="No indication of harm to the youngest.",
        risks="None identified.",
        alternative="Continue the Child and Family Assessment.",
    )
    status = children_fact(await dm.get(f"/discussions/{did}"))
    assert status["LL-3001"].startswith("S47 enquiry (joint") and "plan to complete" in status["LL-3001"]
    assert status["LL-3002"].startswith("Single Assessment first, then reconvene")
    assert status["LL-3003"].startswith("No S47 enquiry")

    # The plan button names the eldest: its value is "<discussion>/<child>", as the button sends it.
    post = dm.page.card(LABEL, within="main-post")
    plan = next(b for b in post.all("button") if b.text == "Plan S47: LL-3001").up("form")
    assert plan.first("input", name="value").attrs["value"] == f"{did}/{kids['LL-3001']}"
    await dm.press("Plan S47: LL-3001", post)
    page = await dm.fill(plan_answers(icpc_on="2026-12-10"))
    assert "The S47 plan for LL-3001 is complete" in page.notices()
    page = await dm.press("Add an action", page.card("plan for LL-3001", within="notices"))
    form = notice_form(page)
    await dm.submit(
        form,
        {
            "description": "Joint visit with police to the eldest.",
            "owner": values_for(form, "owner", "Pat Constable")[0],
            "due_on": "2026-11-26",
            "children": values_for(form, "children", "LL-3001"),
        },
    )
    page = await dm.press(
        "Review record", (await dm.get(f"/discussions/{did}")).card(LABEL, within="main-post")
    )
    assert "Draft records, one per child: LL-3001, LL-3002, LL-3003" in page.notices()
    page = await dm.fill({"monitoring": "Team manager, weekly.", "notify_others": "By phone today."})
    assert "Signed off 3 records, one per child, and circulated each to 2 people." in page.notices()

    # Three records, each with only its own child's decision, plan, contributions and deadlines.
    body = {
        ref: r.body
        for r in await rows(pg, RecordVersion, discussion_id=did)
        for ref in REFS
        if r.child_id == kids[ref]
    }
    assert len(body) == 3 and all(ALL_THREE in b for b in body.values())
    assert "S47 enquiry (joint" in body["LL-3001"] and "S47 plan" in body["LL-3001"]
    assert "Reconvene on: 15 Dec 2026" in body["LL-3002"] and "S47 plan" not in body["LL-3002"]
    assert (
        "Continue the Child and Family Assessment." in body["LL-3003"] and "S47 plan" not in body["LL-3003"]
    )
    assert ELDEST_ONLY in body["LL-3001"] and ELDEST_ONLY not in body["LL-3002"] + body["LL-3003"]
    assert YOUNGEST_ONLY in body["LL-3003"] and YOUNGEST_ONLY not in body["LL-3001"] + body["LL-3002"]
    assert "Joint visit with police" in body["LL-3001"]
    assert "Joint visit" not in body["LL-3002"] + body["LL-3003"]
    own = {
        (i.kind, i.child_id)
        for i in await rows(pg, DueItem, discussion_id=did)
        if i.child_id and i.kind != "acknowledgement"
    }
    one, two, three = (kids[r] for r in REFS)
    assert own == {
        *((k, c) for k in ("record_circulation", "outcome_notification") for c in (one, two, three)),
        ("icpc", one),
        ("further_discussion", one),
        ("final_discussion", one),
        ("reconvene", two),
    }

    # Each participant has three records to acknowledge, one per child, each holding only its own.
    for user in (police, health):
        page = await user.get("/")
        cards = page.cards("Record of strategy discussion: LL-", within="direct")
        titles = sorted(c.first("h3").text for c in cards)
        assert titles == [f"Record of strategy discussion: {ref}" for ref in REFS]
        assert all("Acknowledge receipt" in c.words for c in cards)
        middle = page.card("Record of strategy discussion: LL-3002", within="direct")
        assert ELDEST_ONLY not in middle.words and "Reconvene on" in middle.words
    page = await police.get("/")
    page = await police.press(
        "Acknowledge receipt", page.card("Record of strategy discussion: LL-3002", within="direct")
    )
    assert "Acknowledged: LL-3002. Thank you." in page.notices()
    police_id = (await rows(pg, Contribution, agency="police"))[0].person_id
    records = {r.id: r.child_id for r in await rows(pg, RecordVersion, discussion_id=did)}
    acked = {
        records[c.record_id]
        for c in await rows(pg, Circulation, person_id=police_id)
        if c.acknowledged_at is not None
    }
    assert acked == {two}
    assert all(c.acknowledged_at is None for c in await rows(pg, Circulation) if c.person_id != police_id)

    # The discussion page lists the children, each with their own status.
    status = children_fact(await health.get(f"/discussions/{did}"))
    assert list(status) == list(REFS)
    assert "plan complete; record v1 signed off, 0 of 2 acknowledged" in status["LL-3001"]
    assert "record v1 signed off, 1 of 2 acknowledged" in status["LL-3002"]
    assert "record v1 signed off, 0 of 2 acknowledged" in status["LL-3003"]


async def test_a_sibling_is_added_before_the_decision_and_one_removed_with_a_reason(playground):
    pg = playground
    dm = await pg.as_("duty_manager")
    await dm.get("/")
    await dm.command("convene")
    page = await dm.fill(CONVENE | {"case_ref": "LL-4001"})
    page = await dm.press("Children", page.card("Strategy discussion LL-4001", within="channel"))
    page = await dm.fill({"add": "LL-4002, LL-4003", "why": "Siblings named in the referral."})
    assert "Saved: added LL-4002 and added LL-4003." in page.notices()
    post = page.card("Strategy discussion LL-4001, LL-4002, LL-4003", within="channel")
    page = await dm.press("Children", post)
    form = notice_form(page)
    page = await dm.submit(
        form, {"remove": values_for(form, "remove", "LL-4003")[0], "why": "Convened in error."}
    )
    assert "Saved: removed LL-4003." in page.notices()
    assert page.cards("Strategy discussion LL-4001, LL-4002 (", within="channel")
    (gone,) = await rows(pg, Child, case_ref="LL-4003")
    assert (gone.removed_reason, gone.removed_at is not None) == ("Convened in error.", True)
    page = await dm.command("status", "LL-4002")  # a sibling's own reference finds the discussion
    assert "LL-4001: decision to come" in page.notices() and "LL-4003:" not in page.notices()


def test_on_a_phone_the_discussion_shows_each_childs_case_reference(tmp_path):
    from playwright.sync_api import expect

    from tests.playground import journey
    from tests.playground.chromium import chromium, served

    with served(tmp_path) as base, chromium() as browser:
        dm = journey.person(browser, base, journey.DUTY_MANAGER)
        journey.office_hours(dm)
        dm.get_by_role("button", name="Convene a discussion").click()
        form = journey.notice_form(dm)
        form.get_by_label("Case reference").fill(LABEL)
        form.get_by_label("Category of concern").select_option("physical")
        form.get_by_label("The concern").fill(CONCERN)
        form.locator('[name="in.immediate_risk"][value="no"]').check()
        form.get_by_label("Referring agency").select_option("education")
        form.get_by_role("button", name="Convene").click()
        expect(dm.locator("#channel")).to_contain_text(f"Strategy discussion {LABEL}")

        phone = journey.person(browser, base, journey.HEALTH, width=390, height=844)
        post = phone.locator("#channel article").filter(has_text=f"Strategy discussion {LABEL}")
        for ref in REFS:
            expect(post.get_by_role("listitem").filter(has_text=f"{ref}: decision to come")).to_be_visible()
        post.get_by_role("link", name=re.compile("Open the thread")).click()
        expect(phone.locator("#main-post")).to_contain_text(f"{REFS[-1]}: decision to come")
        # Three references side by side never need a horizontal scroll on the phone.
        assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
