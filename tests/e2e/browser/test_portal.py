"""The member portal in a real browser (headless Chromium) against a real broker.

One broker and one browser for the module; each test has its own browser
context, so its cookies are its own. Screenshots of each role's main page in
both languages go to tests/browser/artifacts/.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, expect

from clients.sdk import CouncilClient
from tests.conftest import Broker

pytestmark = pytest.mark.asyncio(loop_scope="module")

ANALYSIS_TITLE = "Tier-one only: worm exploits SMB signing bypass"
ANALYSIS_BODY = "reverse-engineered loader; C2 at 203.0.113.7 (unconfirmed)"
COUNTERMEASURE_TITLE = "Block outbound 445 at the perimeter"
COUNTERMEASURE_BODY = "temporary rule until the patch is applied"


@dataclass
class Person:
    """A user of a member, with the token the portal signs in with."""

    token: str
    client: CouncilClient
    user_id: str
    member_id: str


@dataclass
class Cast:
    """The council the portal tests share."""

    broker: Broker
    vendor: Person
    peer: Person
    power: Person
    rail: Person
    general: Person
    secretariat: Person
    coordinator: Person
    analysis_id: str
    countermeasure_id: str


async def _person(broker: Broker, member_id: str, name: str, *, handler: bool) -> Person:
    admin = broker.admin
    user, token = await admin.create_user(member_id, name, "member_user")
    if handler:
        await admin.add_handler(member_id, user.id)
    return Person(token, broker.client(token), user.id, member_id)


async def _member(broker: Broker, name: str, **fields: Any) -> str:
    member = await broker.admin.create_member(
        name=name, **{"category": "cyber_business", "tier": "none", **fields}
    )
    return member.id


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cast(shared_broker: Broker) -> Cast:
    """Two vendors, two operators, a general member, the secretariat and the coordinator."""
    broker = shared_broker
    ci = {"tier": "tier_two", "category": "critical_infrastructure"}
    vendor = await _person(
        broker, await _member(broker, "Vendor A", tier="tier_one"), "Aiko", handler=True
    )
    peer = await _person(
        broker, await _member(broker, "Vendor B", tier="tier_one"), "Ben", handler=True
    )
    power = await _person(broker, await _member(broker, "Power Co", **ci), "Kenji", handler=True)
    rail = await _person(broker, await _member(broker, "Rail Co", **ci), "Rina", handler=True)
    general = await _person(
        broker, await _member(broker, "Maker Co", category="other"), "Goro", handler=True
    )
    bodies = await broker.admin.list_members()
    secretariat_id = next(m.id for m in bodies.items if m.kind == "secretariat")
    secretariat = await _person(broker, secretariat_id, "Sachiko", handler=True)
    coordinator = Person(
        broker.admin_token, broker.admin, broker.admin_user_id, broker.coordinator_id
    )
    analysis = await vendor.client.submit(
        {
            "kind": "analysis",
            "title": ANALYSIS_TITLE,
            "body": ANALYSIS_BODY,
            "tlp": "AMBER",
            "secret": False,
            "confidence": "unconfirmed",
            "scope": {"groups": ["tier_one_group"]},
            "victim": {"name": "Hospital X", "damage": True},
        }
    )
    countermeasure = await vendor.client.submit(
        {
            "kind": "countermeasure",
            "title": COUNTERMEASURE_TITLE,
            "body": COUNTERMEASURE_BODY,
            "tlp": "GREEN",
            "secret": False,
            "confidence": "low",
            "scope": {"groups": ["task_force"]},
            "feedback": {"due": "PT4H"},
        }
    )
    return Cast(
        broker,
        vendor,
        peer,
        power,
        rail,
        general,
        secretariat,
        coordinator,
        analysis.id,
        countermeasure.id,
    )


async def sign_in(context: BrowserContext, person: Person, lang: str = "en") -> Page:
    """Sign in through the form, as a person would (the field and button by their names)."""
    page = await context.new_page()
    await page.goto(f"/portal/sign-in?lang={lang}")
    label, button = ("API token", "Sign in") if lang == "en" else ("APIトークン", "サインイン")
    await page.get_by_label(label).fill(person.token)
    await page.get_by_role("button", name=button).click()
    await expect(
        page.get_by_role("button", name=re.compile("Sign out|サインアウト"))
    ).to_be_visible()
    return page


async def test_japanese_by_default_and_the_english_switch(browser: Browser, cast: Cast) -> None:
    """Any language but English gets Japanese; the switch turns the page English and stays."""
    context = await browser.new_context(base_url=cast.broker.url, locale="fr-FR")
    try:
        page = await context.new_page()
        await page.goto("/portal/")
        assert page.url.endswith("/portal/sign-in")
        assert await page.get_attribute("html", "lang") == "ja"
        await expect(page.get_by_label("APIトークン")).to_be_visible()
        await expect(page.get_by_role("button", name="サインイン")).to_be_visible()
        await page.get_by_role("link", name="English").click()
        assert await page.get_attribute("html", "lang") == "en"
        await expect(page.get_by_label("API token")).to_be_visible()
        # The cookie keeps the choice through sign-in and every later page.
        await page.goto("/portal/sign-in")
        assert await page.get_attribute("html", "lang") == "en"
        await page.get_by_label("API token").fill(cast.power.token)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_role("heading", name="Obligations", exact=True)).to_be_visible()
        assert await page.get_attribute("html", "lang") == "en"
        await page.get_by_role("link", name="日本語").click()
        assert await page.get_attribute("html", "lang") == "ja"
        await expect(page.get_by_role("heading", name="回答義務")).to_be_visible()
    finally:
        await context.close()
    # Accept-Language English, no cookie: English.
    english = await browser.new_context(base_url=cast.broker.url, locale="en-GB")
    try:
        page = await english.new_page()
        await page.goto("/portal/sign-in")
        assert await page.get_attribute("html", "lang") == "en"
    finally:
        await english.close()


async def test_an_operator_answers_with_one_click_and_the_provider_sees_it(
    context: BrowserContext, cast: Cast
) -> None:
    """Came / Not came are one click each; the answer moves to "answered" and reaches the
    provider through the API."""
    page = await sign_in(context, cast.power)
    card = page.get_by_role("listitem").filter(has_text=COUNTERMEASURE_TITLE)
    await expect(card.locator("time.countdown")).to_contain_text("left")
    await card.get_by_label("Comment (optional)").fill("seen on two hosts")
    await card.get_by_role("button", name="Came", exact=True).click()
    await expect(page.get_by_role("status")).to_contain_text("Your answer was recorded")
    answered = page.locator("section", has=page.get_by_role("heading", name="Answered"))
    await expect(answered).to_contain_text(COUNTERMEASURE_TITLE)
    await expect(answered).to_contain_text("Came")
    feedback = await cast.vendor.client.feedback(cast.countermeasure_id)
    power_answer = next(a for a in feedback["answers"] if a["member_id"] == cast.power.member_id)
    assert power_answer["verdict"] == "came"
    assert power_answer["comment"] == "seen on two hosts"
    # Still before the due time: the answer can change, again in one click.
    await answered.get_by_role("button", name="Don't know").click()
    feedback = await cast.vendor.client.feedback(cast.countermeasure_id)
    power_answer = next(a for a in feedback["answers"] if a["member_id"] == cast.power.member_id)
    assert power_answer["verdict"] == "unknown"


async def test_a_japanese_operator_answers_in_japanese(browser: Browser, cast: Cast) -> None:
    """The three buttons are 来た / 来ていない / 分からない in Japanese."""
    context = await browser.new_context(base_url=cast.broker.url, locale="ja-JP")
    try:
        page = await sign_in(context, cast.rail, lang="ja")
        card = page.get_by_role("listitem").filter(has_text=COUNTERMEASURE_TITLE)
        for name in ("来た", "来ていない", "分からない"):
            await expect(card.get_by_role("button", name=name, exact=True)).to_be_visible()
        await card.get_by_role("button", name="来ていない", exact=True).click()
        await expect(page.get_by_role("status")).to_contain_text("回答を記録しました")
    finally:
        await context.close()
    feedback = await cast.vendor.client.feedback(cast.countermeasure_id)
    rail_answer = next(a for a in feedback["answers"] if a["member_id"] == cast.rail.member_id)
    assert rail_answer["verdict"] == "not_came"


async def test_an_operator_never_sees_tier_one_analysis(
    context: BrowserContext, cast: Cast
) -> None:
    """Inbox, obligations and the item's own address show nothing of tier one's analysis."""
    page = await sign_in(context, cast.power)
    for path in ("/portal/inbox", "/portal/obligations", "/portal/consultations"):
        await page.goto(path)
        html = await page.content()
        assert ANALYSIS_TITLE not in html
        assert ANALYSIS_BODY not in html
    await page.goto("/portal/inbox")
    await expect(page.get_by_role("link", name=COUNTERMEASURE_TITLE)).to_be_visible()
    response = await page.goto(f"/portal/items/{cast.analysis_id}")
    assert response is not None and response.status == 404
    html = await page.content()
    assert ANALYSIS_TITLE not in html and ANALYSIS_BODY not in html
    await expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    # Each page was audited as the API read it shows: the listing, and the denial.
    admin = cast.broker.admin
    listed = await admin.audit(
        item=cast.countermeasure_id, user=cast.power.user_id, action="item.list"
    )
    assert listed.items and all(e.outcome == "allowed" for e in listed.items)
    denied = await admin.audit(item=cast.analysis_id, user=cast.power.user_id, action="item.read")
    assert [e.outcome for e in denied.items] == ["denied"]


async def test_a_tier_one_reader_sees_the_analysis_with_its_handling(
    context: BrowserContext, cast: Cast
) -> None:
    """The peer vendor opens the analysis: TLP in FIRST's wording, handling, masked victim."""
    page = await sign_in(context, cast.peer)
    await page.get_by_role("link", name=ANALYSIS_TITLE).click()
    await expect(page.locator(".tlp").first).to_have_text("TLP:AMBER")
    await expect(page.get_by_text("need-to-know basis within their organization")).to_be_visible()
    await expect(page.get_by_role("heading", name="Handling")).to_be_visible()
    html = await page.content()
    assert "Hospital X" not in html  # the victim's name is the provider's and coordinator's
    await expect(page.get_by_role("heading", name="Feedback", exact=True)).to_be_visible()
    # Expert feedback from the item's page, in one click with a comment.
    await page.get_by_label("Comment (optional)").fill("same loader seen at two customers")
    await page.get_by_role("button", name="Confirm").click()
    await expect(page.get_by_role("status")).to_contain_text("Your answer was recorded")
    feedback = await cast.vendor.client.feedback(cast.analysis_id)
    peer_answer = next(a for a in feedback["answers"] if a["member_id"] == cast.peer.member_id)
    assert peer_answer["verdict"] == "confirm"
    await page.get_by_role("link", name="Derive from this item").click()
    ceiling = page.get_by_role("region", name="Ceiling from the source")
    await expect(ceiling).to_contain_text("TLP:AMBER")


async def test_a_vendor_submits_with_an_explicit_secret_choice(
    context: BrowserContext, cast: Cast
) -> None:
    """The Submit form: `secret` has no default (art. 18(1)); what is sent reaches the peer."""
    page = await sign_in(context, cast.vendor)
    await page.get_by_role("link", name="Submit").click()
    assert not await page.get_by_label("Yes, secret: registered handlers only").is_checked()
    assert not await page.get_by_label("No, not secret").is_checked()
    await page.get_by_label("Title").fill("Portal-submitted analysis")
    await page.get_by_label("Text").fill("sent from the scope builder")
    await page.get_by_label("TLP:AMBER+STRICT").check()
    await page.get_by_label("Tier-one group (tier one and the coordinator)").check()
    await page.get_by_label("Investigative bodies").check()
    # Without the secret choice the browser refuses to send (the broker refuses too).
    await page.get_by_role("button", name="Send").click()
    assert page.url.endswith("/portal/submit")
    await expect(page.get_by_role("heading", name="Sent")).to_have_count(0)
    await page.get_by_label("No, not secret").check()
    await page.get_by_role("button", name="Send").click()
    await expect(page.get_by_role("heading", name="Sent")).to_be_visible()
    item_link = page.get_by_role("link", name=re.compile(r"^[0-9A-Z]{26}$"))
    item_id = (await item_link.inner_text()).strip()
    item = await cast.peer.client.get_item(item_id)
    assert item.title == "Portal-submitted analysis"
    assert item.tlp == "AMBER+STRICT" and item.secret is False


async def test_a_form_without_the_secret_choice_is_refused_by_the_broker(
    context: BrowserContext, cast: Cast
) -> None:
    """With the browser's check bypassed, the broker itself refuses a missing `secret`."""
    page = await sign_in(context, cast.vendor)
    await page.goto("/portal/submit")
    csrf = await page.locator("input[name=csrf]").first.get_attribute("value")
    response = await context.request.post(
        "/portal/submit",
        form={
            "csrf": csrf or "",
            "kind": "analysis",
            "title": "no secret choice",
            "tlp": "AMBER",
            "confidence": "unconfirmed",
            "groups": "tier_one_group",
        },
    )
    assert response.status == 422
    assert "art. 18(1)" in await response.text()


async def test_the_secretariat_audit_page_shows_events_and_no_contents(
    context: BrowserContext, cast: Cast, artifacts: Path
) -> None:
    """Time, actor, action, item and outcome; filters; export; verification with a bar."""
    await cast.peer.client.get_item(cast.analysis_id)
    page = await sign_in(context, cast.secretariat)
    await expect(page.get_by_role("heading", name="Audit", exact=True)).to_be_visible()
    table = page.get_by_role("table", name="Audit events, oldest first")
    await expect(table).to_contain_text("system.init")
    await expect(table).to_contain_text("item.submit")
    html = await page.content()
    for secret_text in (ANALYSIS_TITLE, ANALYSIS_BODY, COUNTERMEASURE_BODY, "Hospital X"):
        assert secret_text not in html
    await page.get_by_label("Action (e.g. item.read)").fill("item.read")
    await page.get_by_label("Outcome").select_option("allowed")
    await page.get_by_role("button", name="Filter").click()
    actions = await table.locator("tbody tr td:nth-child(3)").all_inner_texts()
    assert actions and set(actions) == {"item.read"}
    html = await page.content()
    assert ANALYSIS_TITLE not in html and ANALYSIS_BODY not in html
    await page.get_by_label("Item id").fill(cast.analysis_id)
    await page.get_by_role("button", name="Filter").click()
    await expect(table).to_contain_text(cast.analysis_id)
    # Export: the JSON Lines download.
    await page.goto("/portal/audit")
    async with page.expect_download() as info:
        await page.get_by_role("link", name="Export (JSON Lines)").click()
    download = await info.value
    exported = Path(await download.path()).read_text()  # noqa: ASYNC240 - a small local file
    assert '"type": "keys"' in exported.splitlines()[0]
    assert "item.read" in exported and ANALYSIS_TITLE not in exported
    # Verification: a progress bar that reaches the whole log, then the verdict.
    await page.get_by_role("button", name="Verify the chain").click()
    await expect(page.get_by_role("status")).to_contain_text("Verified", timeout=20_000)
    bar = page.get_by_label("Events checked")
    assert await bar.get_attribute("value") == await bar.get_attribute("max")
    # Break-glass asks for a reason first.
    await page.goto(f"/portal/items/{cast.analysis_id}/break-glass")
    await page.get_by_label("Reason (required)").fill("dispute 2026-17: settle what was sent")
    await page.get_by_role("button", name="Open with this reason").click()
    await expect(page.get_by_role("status")).to_contain_text("Break-glass read")
    log = await cast.vendor.client._json("GET", f"/v1/items/{cast.analysis_id}/access-log")
    assert any(e["action"] == "item.break_glass" for e in log["items"])


async def test_sign_out_ends_the_session_on_the_server(
    browser: Browser, context: BrowserContext, cast: Cast
) -> None:
    """After Sign out the same cookie, replayed elsewhere, opens nothing."""
    page = await sign_in(context, cast.general)
    cookie = next(c for c in await context.cookies() if c["name"] == "council_portal")
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("status")).to_contain_text("You have signed out")
    await page.goto("/portal/inbox")
    assert page.url.endswith("/portal/sign-in")
    replay = await browser.new_context(base_url=cast.broker.url)
    try:
        await replay.add_cookies([cookie])
        other = await replay.new_page()
        await other.goto("/portal/inbox")
        assert other.url.endswith("/portal/sign-in")
    finally:
        await replay.close()


async def test_the_cookie_flags_and_the_content_security_policy(
    context: BrowserContext, cast: Cast
) -> None:
    """HttpOnly, SameSite=Strict, no token in the cookie; a CSP with no inline script."""
    page = await context.new_page()
    response = await page.goto("/portal/sign-in")
    assert response is not None
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    await page.get_by_label("API token").fill(cast.general.token)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Inbox")).to_be_visible()
    cookies = {c["name"]: c for c in await context.cookies()}
    session = cookies["council_portal"]
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Strict"
    assert session["secure"] is False  # plain HTTP here; Secure under TLS
    assert cast.general.token not in session["value"]
    assert await page.evaluate("document.querySelectorAll('script:not([src])').length") == 0
    assert await page.evaluate("typeof localStorage.getItem('token')") == "object"
    assert cast.general.token not in await page.content()
    # An inline script injected into the page is blocked by the policy.
    blocked = await page.evaluate(
        """() => new Promise(resolve => {
            document.addEventListener('securitypolicyviolation', () => resolve(true));
            const s = document.createElement('script');
            s.textContent = 'window.__ran = true';
            document.body.appendChild(s);
            setTimeout(() => resolve(window.__ran !== true), 500);
        })"""
    )
    assert blocked is True


async def test_a_post_without_the_csrf_token_is_refused(
    context: BrowserContext, cast: Cast
) -> None:
    """A signed-in browser's post without (or with a wrong) CSRF token changes nothing: 403."""
    await sign_in(context, cast.general)
    before = await cast.general.client._json("GET", "/v1/obligations?status=all")
    for form in ({"verdict": "came"}, {"verdict": "came", "csrf": "forged"}):
        response = await context.request.post(
            f"/portal/items/{cast.countermeasure_id}/feedback", form=form
        )
        assert response.status == 403
    response = await context.request.post("/portal/sign-out", form={})
    assert response.status == 403
    assert await cast.general.client._json("GET", "/v1/obligations?status=all") == before
    page = await context.new_page()
    await page.goto("/portal/inbox")
    await expect(page.get_by_role("heading", name="Inbox")).to_be_visible()  # still signed in


async def test_keyboard_only_sign_in_and_a_narrow_screen(
    browser: Browser, cast: Cast, artifacts: Path
) -> None:
    """Sign-in works with the keyboard alone; pages fit a 360 px wide screen."""
    context = await browser.new_context(
        base_url=cast.broker.url, locale="en-US", viewport={"width": 360, "height": 740}
    )
    try:
        page = await context.new_page()
        await page.goto("/portal/sign-in")
        for _ in range(10):
            await page.keyboard.press("Tab")
            if await page.evaluate("document.activeElement.id") == "token":
                break
        assert await page.evaluate("document.activeElement.id") == "token"
        await page.keyboard.type(cast.power.token)
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("heading", name="Obligations", exact=True)).to_be_visible()
        for path in (
            "/portal/obligations",
            "/portal/inbox",
            f"/portal/items/{cast.countermeasure_id}",
        ):
            await page.goto(path)
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= 360, f"{path} is {width} px wide"
        await page.goto("/portal/obligations")
        await page.screenshot(path=str(artifacts / "tier_two-360px-en.png"), full_page=True)
    finally:
        await context.close()


async def test_the_coordinator_pages(context: BrowserContext, cast: Cast) -> None:
    """Members with users and handlers, the ledger with flags and overdue answers."""
    page = await sign_in(context, cast.coordinator)
    await page.get_by_role("link", name="Members").click()
    await expect(page.get_by_role("table")).to_contain_text("Power Co")
    await page.get_by_role("link", name="Power Co").click()
    await expect(page.get_by_role("heading", name="Users")).to_be_visible()
    await expect(page.get_by_text("registered handler")).to_be_visible()
    await page.get_by_role("link", name="Ledger").click()
    await expect(page.get_by_role("table", name="Contributions per member")).to_be_visible()
    await expect(page.get_by_role("heading", name="Overdue obligations")).to_be_visible()
    # The coordinator sees the victim's name (charter annex).
    await page.goto(f"/portal/items/{cast.analysis_id}")
    await expect(page.get_by_text("Hospital X")).to_be_visible()


async def test_a_member_consults_privately_and_the_coordinator_replies(
    browser: Browser, cast: Cast
) -> None:
    """The consultation form (art. 16(3)); the coordinator answers from its own page."""
    asker = await browser.new_context(base_url=cast.broker.url, locale="en-US")
    coordinator = await browser.new_context(base_url=cast.broker.url, locale="en-US")
    try:
        page = await sign_in(asker, cast.general)
        await page.get_by_role("link", name="Consultations").click()
        await page.get_by_label("Title").fill("file server acting strangely")
        await page.get_by_label("Your question").fill("since this morning, odd SMB traffic")
        await page.get_by_role("button", name="Send the question").click()
        await expect(
            page.get_by_role("heading", name="file server acting strangely")
        ).to_be_visible()
        consultation_url = page.url
        other = await sign_in(coordinator, cast.coordinator)
        await other.goto(consultation_url)
        await other.get_by_label("Reply").fill("patch MS17-010 and isolate the host")
        await other.get_by_role("button", name="Send the reply").click()
        await page.reload()
        await expect(page.get_by_text("patch MS17-010 and isolate the host")).to_be_visible()
    finally:
        await asker.close()
        await coordinator.close()


ROLE_PAGES = {
    "tier_two": ("power", "/portal/obligations"),
    "tier_one": ("vendor", "/portal/inbox"),
    "member": ("general", "/portal/inbox"),
    "secretariat": ("secretariat", "/portal/audit"),
    "coordinator": ("coordinator", "/portal/ledger"),
}


@pytest.mark.parametrize("lang", ["ja", "en"])
async def test_screenshots_of_each_roles_main_page(
    browser: Browser, cast: Cast, artifacts: Path, lang: str
) -> None:
    """Each role's main page, in each language, as a screenshot artefact."""
    for role, (who, path) in ROLE_PAGES.items():
        # A fresh profile per role, as each person has their own browser.
        context = await browser.new_context(
            base_url=cast.broker.url, locale="ja-JP" if lang == "ja" else "en-US"
        )
        try:
            page = await sign_in(context, getattr(cast, who), lang=lang)
            await page.goto(path)
            assert await page.get_attribute("html", "lang") == lang
            await page.screenshot(path=str(artifacts / f"{role}-{lang}.png"))
        finally:
            await context.close()
    for role in ROLE_PAGES:
        assert (artifacts / f"{role}-{lang}.png").stat().st_size > 10_000


async def test_an_idle_session_expires(context: BrowserContext, cast: Cast) -> None:
    """Thirty minutes without a request (the default) end the session."""
    page = await sign_in(context, cast.general)
    cast.broker.clock.advance(minutes=29)
    await page.goto("/portal/inbox")
    assert page.url.endswith("/portal/inbox")
    cast.broker.clock.advance(minutes=30)
    await page.goto("/portal/inbox")
    assert page.url.endswith("/portal/sign-in")


async def test_after_the_due_time_an_answer_no_longer_changes(
    context: BrowserContext, cast: Cast
) -> None:
    """Past the due time the answered obligation shows its answer without buttons."""
    await cast.power.client.answer(cast.countermeasure_id, "came")
    cast.broker.clock.advance(hours=5)
    page = await sign_in(context, cast.power)
    answered = page.locator("section", has=page.get_by_role("heading", name="Answered"))
    await expect(answered).to_contain_text(COUNTERMEASURE_TITLE)
    await expect(answered.get_by_role("button")).to_have_count(0)
