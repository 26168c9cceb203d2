"""A whole discussion in real Chromium, step by step, as the people in it would click through it.

Shared by the browser test and the screenshot script. Each person has a browser context of their own
(their own cookies); every step works the page the way a person does: labels, buttons, text boxes.
"""

import re
from datetime import date, datetime

from playwright.sync_api import Browser, Page, expect

from dialogs.clock import add_working_days

CASE = "LL-9001"
DUTY_MANAGER = "Dana Duty"
POLICE = "Pat Constable"
HEALTH = "Hari Health"


def today(page: Page) -> date:
    """The simulated local date the page shows."""
    return datetime.strptime(page.locator("#now").inner_text(), "%a %d %b %Y, %H:%M").date()


def office_hours(page: Page) -> None:
    """Move the process clock on with "Next 09:00" until it is office hours (weekends, bank holidays).

    At least once: the meeting is proposed for the next hour, which late in a real afternoon is out of
    hours; at 09:00 it is 10:00, in the middle of the day, whenever the test runs."""
    for _ in range(7):
        before = page.locator("#now").inner_text()
        page.get_by_role("button", name="Next 09:00").click()
        expect(page.locator("#now")).not_to_have_text(before)
        if ", office hours" in page.locator("header.top").inner_text():
            return
    raise AssertionError("no office hours within seven mornings")


def person(browser: Browser, base: str, name: str, width: int = 1280, height: int = 900) -> Page:
    """A browser window of one's own, signed in as `name` from the picker."""
    context = browser.new_context(
        viewport={"width": width, "height": height}, locale="en-GB", timezone_id="Europe/London"
    )
    page = context.new_page()
    page.goto(base + "/")
    expect(page.get_by_role("heading", name="Who are you?")).to_be_visible()
    page.get_by_role("button", name=re.compile(re.escape(name))).click()
    expect(page.locator("header.top")).to_contain_text(f"You are {name}")
    return page


def notice_form(page: Page):
    return page.locator("#notices form.card-form").last


def main_post(page: Page):
    return (
        page.locator("#channel article, #main-post article")
        .filter(has_text=f"Strategy discussion {CASE}")
        .first
    )


def convene(dm: Page) -> None:
    dm.get_by_role("button", name="Convene a discussion").click()
    form = notice_form(dm)
    expect(form).to_contain_text("Convene a strategy discussion")
    form.get_by_label("Case reference").fill(CASE)
    form.get_by_label("Category of concern").select_option("physical")
    form.get_by_label("The concern").fill("Bruising to the upper arm, seen by the school nurse this morning.")
    form.locator('[name="in.immediate_risk"][value="no"]').check()
    form.get_by_label("Referring agency").select_option("health")
    form.get_by_role("button", name="Convene").click()
    expect(main_post(dm)).to_contain_text(re.compile(r"Quorum\s*not met"))


def invite(dm: Page, *names: str) -> None:
    main_post(dm).get_by_role("button", name="Invite", exact=True).click()
    form = notice_form(dm)
    for name in names:
        form.get_by_label(name).check()
    form.get_by_role("button", name="Send invitations").click()
    expect(dm.locator("#notices")).to_contain_text(f"Invited {len(names)} people.")


def to_channel(page: Page) -> None:
    page.get_by_role("link", name="Strategy discussions").click()
    expect(page.locator("#channel")).to_be_visible()


def accept(page: Page) -> None:
    to_channel(page)
    invitation = page.locator("#direct article").filter(has_text=f"Strategy discussion invitation: {CASE}")
    invitation.get_by_role("button", name="Accept").click()
    expect(page.locator("#notices")).to_contain_text(f"you have accepted {CASE}")


def open_thread(page: Page) -> None:
    to_channel(page)
    main_post(page).get_by_role("link", name=re.compile("Open the thread")).click()
    expect(page.locator("#thread")).to_be_visible()


def start(dm: Page) -> None:
    open_thread(dm)
    main_post(dm).get_by_role("button", name="Start").click()
    expect(dm.locator("#thread")).to_contain_text("Stage 2 of 6")


def reply(page: Page, text: str) -> None:
    open_thread(page)
    page.get_by_label("Reply in the thread").fill(text)
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#thread article.reply").last).to_contain_text(text)


def decide(dm: Page) -> None:
    dm.reload()
    main_post(dm).get_by_role("button", name="Decide").click()
    form = notice_form(dm)
    for question in (
        "possible_injury",
        "medical_implications",
        "hospital_involvement",
        "inpatient",
        "complex",
    ):
        form.locator(f'select[name="in.c_{question}"]').select_option("no")  # not known at convening
    form.get_by_label("Outcome").select_option("s47_joint")
    form.get_by_label("Reasons for the decision").fill("Unexplained bruising; the threshold for S47 is met.")
    form.get_by_label("Risks identified that informed it").fill("Possible non-accidental injury.")
    form.get_by_role("button", name="Record decision").click()
    expect(dm.locator("#notices")).to_contain_text("Decision recorded")


def plan(dm: Page) -> None:
    main_post(dm).get_by_role("button", name="Plan S47").click()
    form = notice_form(dm)
    items = form.locator('textarea[name^="in.item_"]')
    for n in range(items.count()):
        items.nth(n).fill(f"Agreed in the discussion (item {n + 1}).")
    form.locator('[name="in.tell_parents"][value="yes"]').check()
    form.get_by_label("What they are told").fill("The social worker tells the parents today on a home visit.")
    icpc = add_working_days(today(dm), 10, "england-and-wales")
    form.get_by_label("Initial child protection conference date").fill(icpc.isoformat())
    form.get_by_role("button", name="Save plan").click()
    expect(dm.locator("#notices")).to_contain_text("The S47 plan is complete")


def sign_off(dm: Page) -> None:
    main_post(dm).get_by_role("button", name="Review record").click()
    form = notice_form(dm)
    expect(dm.locator("#notices")).to_contain_text(f"Draft record: {CASE}")
    form.get_by_label("Who monitors progress, and how").fill("The team manager reviews it weekly.")
    form.get_by_role("button", name="Sign off and circulate").click()
    expect(dm.locator("#notices")).to_contain_text("Signed off and circulated to 2 people.")


def acknowledge(page: Page) -> None:
    to_channel(page)
    record = page.locator("#direct article").filter(has_text=f"Record of strategy discussion: {CASE}")
    expect(record).to_contain_text("Agreed in the discussion")
    record.get_by_role("button", name="Acknowledge receipt").click()
    expect(page.locator("#notices")).to_contain_text(f"Acknowledged: {CASE}. Thank you.")
