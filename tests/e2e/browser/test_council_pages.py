"""The steering committee's pages, violation reports and the API page, in Chromium.

A two-seat committee (so one yes keeps a restriction open, art. 8(2) asks three
quarters), a member the restriction is about, a reporter and the secretariat's
staff; one broker and one browser for the module, a browser context per person.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, expect

from clients.sdk import CouncilClient
from tests.conftest import Broker

pytestmark = pytest.mark.asyncio(loop_scope="module")

RESTRICTION_TITLE = "Restrict Leaky Co: TLP:AMBER analysis found on a public paste site"


@dataclass
class Person:
    """A user, with the token the portal signs in with."""

    token: str
    client: CouncilClient
    user_id: str
    member_id: str


@dataclass
class Committee:
    """What the tests share: the seats, the member concerned, a reporter, the staff."""

    broker: Broker
    chair: Person
    seat: Person
    subject: Person
    reporter: Person
    staff: Person
    resolution_id: str


async def _user(broker: Broker, member_id: str, name: str, **fields: object) -> Person:
    created = await broker.admin._json(
        "POST",
        f"/v1/members/{member_id}/users",
        json={"name": name, "role": "member_user", **fields},
    )
    token = created["token"]
    return Person(token, broker.client(token), created["user"]["id"], member_id)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def committee(shared_broker: Broker) -> Committee:
    """Two committee seats, a restriction open on Leaky Co, a reporter and the staff."""
    broker = shared_broker
    bodies = await broker.admin.list_members()
    secretariat_id = next(m.id for m in bodies.items if m.kind == "secretariat")
    chair = await _user(broker, secretariat_id, "Chair", role="committee", chair=True)
    seat = await _user(broker, secretariat_id, "Seat Two", role="committee")
    staff = await _user(broker, secretariat_id, "Sachiko")
    leaky = await broker.admin.create_member(
        name="Leaky Co", category="cyber_business", tier="tier_one"
    )
    maker = await broker.admin.create_member(name="Maker Co", category="other", tier="none")
    subject = await _user(broker, leaky.id, "Lou")
    reporter = await _user(broker, maker.id, "Goro")
    opened = await chair.client._json(
        "POST",
        "/v1/resolutions",
        json={"kind": "restriction", "title": RESTRICTION_TITLE, "subject_member_id": leaky.id},
    )
    return Committee(broker, chair, seat, subject, reporter, staff, opened["id"])


async def sign_in(context: BrowserContext, person: Person, lang: str = "en") -> Page:
    """Sign in through the form, as a person would."""
    page = await context.new_page()
    await page.goto(f"/portal/sign-in?lang={lang}")
    label, button = ("API token", "Sign in") if lang == "en" else ("APIトークン", "サインイン")
    await page.get_by_label(label).fill(person.token)
    await page.get_by_role("button", name=button).click()
    await expect(
        page.get_by_role("button", name=re.compile("Sign out|サインアウト"))
    ).to_be_visible()
    return page


async def test_a_seat_votes_yes_in_one_click_and_the_count_shows_it(
    context: BrowserContext, committee: Committee
) -> None:
    """Resolutions → the restriction → "Yes": the count and the API record the vote."""
    page = await sign_in(context, committee.seat)
    await page.get_by_role("link", name="Resolutions").click()
    await page.get_by_role("link", name=RESTRICTION_TITLE).click()
    await page.get_by_role("button", name="Yes", exact=True).click()
    await expect(page.get_by_role("status")).to_have_text("Your vote is recorded.")
    count = page.get_by_role("table", name="Count so far")
    await expect(count.get_by_role("cell").first).to_have_text("1")
    # One yes of two seats is short of three quarters (art. 8(2)): still open.
    await page.get_by_role("link", name="Resolutions").click()
    row = page.get_by_role("row", name=re.compile(re.escape(RESTRICTION_TITLE)))
    await expect(row.get_by_role("cell").nth(2)).to_have_text("1")
    shown = await committee.chair.client._json("GET", f"/v1/resolutions/{committee.resolution_id}")
    assert shown["status"] == "open"
    assert shown["tally"]["yes"] == 1
    assert shown["votes"] == [
        {
            "user_id": committee.seat.user_id,
            "voter_id": committee.seat.user_id,
            "vote": "yes",
            "seat": False,
        }
    ]


async def test_the_member_concerned_sees_no_trace_of_the_open_resolution(
    context: BrowserContext, committee: Committee
) -> None:
    """Art. 27: no navigation link, and the resolution's page is the same 404 as none."""
    page = await sign_in(context, committee.subject)
    await expect(page.get_by_role("link", name="Resolutions")).to_have_count(0)
    response = await page.goto(f"/portal/resolutions/{committee.resolution_id}")
    assert response is not None and response.status == 404
    await expect(page.get_by_text(RESTRICTION_TITLE)).to_have_count(0)
    hidden = await page.locator("main").inner_text()
    absent = await page.goto("/portal/resolutions/no-such-resolution")
    assert absent is not None and absent.status == 404
    assert await page.locator("main").inner_text() == hidden


async def test_a_reporter_files_a_report_and_the_secretariat_closes_it(
    browser: Browser, committee: Committee
) -> None:
    """Art. 29: the reporter files; the staff see it, investigate and close it with a note."""
    text = "our analysis turned up on a public paste site an hour after sharing"
    reporter = await browser.new_context(base_url=committee.broker.url, locale="en-US")
    staff = await browser.new_context(base_url=committee.broker.url, locale="en-US")
    try:
        page = await sign_in(reporter, committee.reporter)
        await page.get_by_role("link", name="Reports").click()
        await page.get_by_label("What happened").select_option(label="Leak")
        await page.get_by_label("Description").fill(text)
        await page.get_by_role("button", name="File the report").click()
        await expect(page.get_by_text("Received, awaiting review")).to_be_visible()
        other = await sign_in(staff, committee.staff)
        await other.get_by_role("link", name="Reports").click()
        await expect(other.get_by_role("link", name="Report a violation")).to_have_count(0)
        table = other.get_by_role("table", name="Reports you may see")
        await expect(table).to_contain_text(text)
        await table.get_by_role("row", name=re.compile("paste site")).get_by_role("link").click()
        for status, note in (("Investigating", "asked Leaky Co"), ("Closed", "key rotated")):
            await other.get_by_label("New status").select_option(label=status)
            await other.get_by_label("Note").fill(note)
            await other.get_by_role("button", name="Save").click()
            await expect(other.get_by_text(note)).to_be_visible()
        await page.reload()
        await expect(page.get_by_text("Closed")).to_be_visible()
        await expect(page.get_by_text("key rotated")).to_be_visible()
    finally:
        await reporter.close()
        await staff.close()


async def test_the_api_page_renders_in_chromium(context: BrowserContext) -> None:
    """`/docs`: Swagger UI, from the broker alone, shows the API's title and operations."""
    page = await context.new_page()
    await page.goto("/docs")
    await expect(page.get_by_role("heading", name=re.compile("Council broker"))).to_be_visible()
    await expect(page.get_by_text("/v1/items", exact=True).first).to_be_visible()


@pytest.mark.parametrize("lang", ["ja", "en"])
async def test_screenshots_of_the_committees_resolutions_page(
    browser: Browser, committee: Committee, artifacts: Path, lang: str
) -> None:
    """The committee's resolutions page and one resolution, in each language, as artefacts."""
    context = await browser.new_context(
        base_url=committee.broker.url, locale="ja-JP" if lang == "ja" else "en-US"
    )
    try:
        page = await sign_in(context, committee.chair, lang=lang)
        await page.goto("/portal/resolutions")
        assert await page.get_attribute("html", "lang") == lang
        await expect(page.get_by_role("link", name=RESTRICTION_TITLE)).to_be_visible()
        shot = artifacts / f"committee-resolutions-{lang}.png"
        await page.screenshot(path=str(shot), full_page=True)
        # And one resolution's page, with the seat's buttons and the recusal form.
        await page.get_by_role("link", name=RESTRICTION_TITLE).click()
        names = ("賛成", "反対", "棄権") if lang == "ja" else ("Yes", "No", "Abstain")
        for name in names:
            await expect(page.get_by_role("button", name=name, exact=True)).to_be_visible()
        await page.screenshot(path=str(artifacts / f"committee-resolution-{lang}.png"))
    finally:
        await context.close()
    assert shot.stat().st_size > 10_000
