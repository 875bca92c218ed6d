"""`council demo`: the council's motivating case, played against a running broker.

The case in under a minute: Vendor A's unconfirmed analysis,
tier-one feedback, an early countermeasure and the operators' quick answers
(one late, one missing), what each party sees of them, the confirmed
countermeasure for everyone, a private consultation, the secretariat's audit
review and the coordinator's contribution ledger; and the last act: a leak is
reported to the secretariat (art. 29), the steering committee restricts the
suspect the moment three quarters of its seats vote yes (art. 8(2)), and the
suspect's open stream closes at once. Everything goes through the
public API with the member SDK, as a real council would; the demo admits its
own members, named uniquely per run, so it never touches anybody else's data.

It runs as a coordinator administrator (`council --token`) (to admit the demo members,
give the secretariat an auditor, and seat four demo committee members for the last act,
whose seats it revokes again at the end). The timeline it prints says, step by step,
who received, answered and saw what.

Every item it submits names the demo members in its scope instead of whole
groups, so nothing reaches a real member. The one exception is by design: a
consultation goes to the whole tier-one group (art. 16(3)), so real tier-one
members see the demo's question, titled "[demo ...]". Run it on a staging
broker where that matters.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from clients.sdk import CouncilClient, NotFound, StreamClosed

__all__ = ["DemoCast", "Timeline", "play"]

Wait = Callable[[float], Awaitable[None]]
"""How the demo lets time pass: `asyncio.sleep` live; a test moves its clock instead."""

QUICK_DUE_SECONDS = 12
"""The early countermeasure's deadline: short, so that one answer comes in late."""


@dataclass
class Member:
    """A demo member: its id and name, a handler user and a plain user."""

    id: str
    name: str
    handler: CouncilClient
    plain: CouncilClient


@dataclass
class DemoCast:
    """Everyone the demo admits, plus the coordinator and a secretariat auditor."""

    prefix: str
    coordinator: CouncilClient
    coordinator_id: str
    secretariat_id: str
    secretariat: CouncilClient
    tier_one: list[Member] = field(default_factory=list)
    tier_two: list[Member] = field(default_factory=list)
    general: list[Member] = field(default_factory=list)

    def clients(self) -> list[CouncilClient]:
        """Every client the demo opened (to close them at the end)."""
        members = [*self.tier_one, *self.tier_two, *self.general]
        return [self.secretariat, *(c for m in members for c in (m.handler, m.plain))]

    def scope(self, *groups: list[Member], **exclusions: list[str]) -> dict[str, Any]:
        """A scope naming the demo's own members of `groups`, never a whole real group."""
        return {"members": [m.id for g in groups for m in g], **exclusions}

    def title(self, text: str) -> str:
        """`text`, marked as this run's demo content."""
        return f"[{self.prefix.lower()}] {text}"


class Timeline:
    """The demo's readable output: numbered steps, then who did or saw what."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._started = time.monotonic()

    def step(self, number: int, title: str) -> None:
        """Open a step of the motivating case."""
        self.console.rule(f"[bold]Step {number}[/bold] · {title}", align="left")

    def event(self, who: str, what: str, *, ok: bool | None = None) -> None:
        """One line: elapsed time, who, what (✓ allowed, ✗ refused, · neutral)."""
        mark = {True: "[green]✓[/green]", False: "[red]✗[/red]", None: "·"}[ok]
        elapsed = time.monotonic() - self._started
        # Text from the broker is shown as text, never read as console markup.
        self.console.print(
            f"[dim]{elapsed:5.1f}s[/dim] {mark} [bold]{escape(who)}[/bold] {escape(what)}"
        )


async def play(
    coordinator: CouncilClient, console: Console, wait: Wait = asyncio.sleep
) -> DemoCast:
    """The nine steps of the council's case, as `coordinator` (a coordinator
    administrator's client, which the caller closes); `wait` lets the early
    countermeasure fall due."""
    timeline = Timeline(console)
    cast: DemoCast | None = None
    try:
        cast = await _admit(coordinator, timeline)
        await _steps(cast, timeline, wait)
        return cast
    finally:
        for client in cast.clients() if cast else []:
            await client.aclose()


async def _admit(coordinator: CouncilClient, timeline: Timeline) -> DemoCast:
    run = secrets.token_hex(3)
    prefix = f"Demo {run}"
    timeline.step(0, f"the council for this run ({prefix})")
    everyone = await coordinator.list_members()
    bodies = {b.kind: b.id for b in everyone.items if b.kind != "member"}
    _, auditor = await coordinator.create_user(
        bodies["secretariat"], f"{prefix} auditor", "member_user"
    )
    cast = DemoCast(
        prefix=prefix,
        coordinator=coordinator,
        coordinator_id=bodies["coordinator"],
        secretariat_id=bodies["secretariat"],
        secretariat=CouncilClient(coordinator.base_url, auditor),
    )
    ci = {"tier": "tier_two", "category": "critical_infrastructure"}
    plan: list[tuple[list[Member], str, dict[str, Any]]] = [
        (cast.tier_one, "Vendor A", {"tier": "tier_one", "category": "cyber_business"}),
        (cast.tier_one, "Vendor B", {"tier": "tier_one", "category": "cyber_business"}),
        (cast.tier_one, "Vendor C", {"tier": "tier_one", "category": "cyber_business"}),
        (cast.tier_two, "Power Co", ci),
        (cast.tier_two, "Rail Co", ci),
        (cast.tier_two, "Hospital Group", ci),
        (cast.tier_two, "City B", {"tier": "tier_two", "category": "local_government"}),
        (cast.tier_two, "Water Works", ci),
        (cast.general, "Maker D", {"category": "other"}),
        (cast.general, "Police", {"category": "government", "law_enforcement": True}),
        (cast.general, "Refuser E", {"category": "other", "refuses_secrets": True}),
        (cast.general, "Handlerless F", {"category": "other", "_no_handler": True}),
        (cast.general, "University G", {"category": "academia"}),
    ]
    for group, short, attrs in plan:
        group.append(await _member(coordinator, f"{prefix} {short}", attrs))
    timeline.event(
        "coordinator",
        "admitted 3 tier-one, 5 tier-two and 5 general members "
        "(Police: law enforcement; Refuser E refuses secrets; Handlerless F has "
        "no registered handler)",
    )
    return cast


async def _member(coordinator: CouncilClient, name: str, attrs: dict[str, Any]) -> Member:
    fields = {k: v for k, v in attrs.items() if not k.startswith("_")}
    created = await coordinator.create_member(name=name, **{"tier": "none", **fields})
    handler_user, handler_token = await coordinator.create_user(
        created.id, f"{name} analyst", "member_user"
    )
    _, plain_token = await coordinator.create_user(created.id, f"{name} staff", "member_user")
    if not attrs.get("_no_handler"):
        await coordinator.add_handler(created.id, handler_user.id)  # art. 6(6)
    return Member(
        id=created.id,
        name=name,
        handler=CouncilClient(coordinator.base_url, handler_token),
        plain=CouncilClient(coordinator.base_url, plain_token),
    )


async def _opens(client: CouncilClient, item_id: str) -> bool:
    try:
        await client.get_item(item_id)
    except NotFound:
        return False
    return True


def _short(member: Member) -> str:
    return member.name.split(" ", 2)[2]


async def _steps(cast: DemoCast, timeline: Timeline, wait: Wait) -> None:
    vendor_a, vendor_b, vendor_c = cast.tier_one
    power, rail, hospital, city, _water = cast.tier_two
    maker, police, refuser, handlerless, university = cast.general
    say = timeline.event

    # 1 ---------------------------------------------------------------------------------
    timeline.step(1, "Vendor A shares an unconfirmed, secret analysis with the tier-one group")
    analysis = await vendor_a.handler.submit(
        {
            "kind": "analysis",
            "title": cast.title("Worm spreading over the file-sharing protocol"),
            "body": "Known CVE, patched two months ago; unpatched PCs are infected on boot.",
            "tlp": "AMBER",
            "secret": True,
            "confidence": "unconfirmed",
            "scope": cast.scope(cast.tier_one),
            "victim": {"name": "Company A", "damage": True},
            "feedback": {"due": "PT6H"},
        }
    )
    say(
        "Vendor A",
        f"submitted the analysis: {analysis.recipients} recipients "
        "(Vendors A, B, C and the coordinator), TLP:AMBER, secret, victim masked",
    )
    for member in (vendor_b, vendor_c):
        item = await member.handler.get_item(analysis.id)
        victim = item.victim.name if item.victim else None
        say(_short(member), f"opens it; sees the victim as {victim or '(masked)'}", ok=True)
    for member in (power, maker):
        opened = await _opens(member.handler, analysis.id)
        assert not opened
        say(_short(member), "gets 404: analysis stays inside the tier-one group", ok=False)
    for member in (vendor_b, vendor_c):
        owed = await member.handler.obligations()
        say(_short(member), f"owes expert feedback by {owed[0].due:%Y-%m-%d %H:%M} UTC")

    # 2 ---------------------------------------------------------------------------------
    timeline.step(2, "Vendors B and C give expert feedback")
    await vendor_b.handler.answer(analysis.id, "confirm", "Same sample at two customers.")
    say("Vendor B", "confirms: same sample at two customers", ok=True)
    await vendor_c.handler.answer(
        analysis.id, "additional_info", "Indicators: beacons to 203.0.113.7 on port 445."
    )
    say("Vendor C", "adds indicators (additional_info)", ok=True)
    seen = await vendor_a.handler.feedback(analysis.id)
    given = sum(1 for a in seen["answers"] if a["verdict"])
    say("Vendor A", f"sees every answer individually ({given} given so far)")

    # 3 ---------------------------------------------------------------------------------
    timeline.step(3, "Vendor A derives a low-confidence countermeasure for tier two")
    early = await vendor_a.handler.submit(
        {
            "kind": "countermeasure",
            "title": cast.title("Do not switch on unpatched PCs"),
            "body": "Keep unpatched PCs off; apply the patch offline first.",
            "tlp": "AMBER",
            "secret": False,
            "confidence": "low",
            "scope": cast.scope(cast.tier_one, cast.tier_two),
            "derived_from": [analysis.id],
            "feedback": {"due": f"PT{QUICK_DUE_SECONDS}S"},
        }
    )
    say(
        "Vendor A",
        f"derived the countermeasure (provenance kept): {early.recipients} "
        f"recipients; answers due in {QUICK_DUE_SECONDS}s",
    )
    for member in cast.tier_two:
        owed = [o for o in await member.handler.obligations() if o.item_id == early.id]
        assert owed
        say(_short(member), "receives it before Monday and owes a quick answer")
    assert not await _opens(maker.handler, early.id)
    say("Maker D", "gets 404: general members wait for a confirmed countermeasure", ok=False)

    # 4 ---------------------------------------------------------------------------------
    timeline.step(4, "The operators answer: came / not came / don't know")
    for member, verdict in ((power, "came"), (hospital, "not_came"), (city, "unknown")):
        await member.handler.answer(early.id, verdict)
        say(_short(member), f"answers {verdict}", ok=True)
    say("Rail Co", "is busy; Water Works never answers")
    await wait(QUICK_DUE_SECONDS + 1)
    late = await rail.handler.answer(early.id, "came")
    say("Rail Co", f"answers came after the deadline: late={late['late']}", ok=True)

    # 5 ---------------------------------------------------------------------------------
    timeline.step(5, "Who sees what of the answers")
    individual = await vendor_a.handler.feedback(early.id)
    names = {m.id: _short(m) for m in cast.tier_two}
    listing = ", ".join(
        f"{names[a['member_id']]}={a['verdict'] or ('overdue' if a['overdue'] else 'open')}"
        + (" (late)" if a["late"] else "")
        for a in individual["answers"]
    )
    say("Vendor A", f"sees each answer: {listing}")
    coordinator_view = await cast.coordinator.feedback(early.id)
    say("coordinator", f"sees each answer too ({len(coordinator_view['answers'])} rows)")
    counts = (await vendor_b.handler.feedback(early.id))["summary"]["quick_answers"]
    say(
        "Vendor B",
        "sees only counts: came {came}, not came {not_came}, unknown {unknown}, "
        "missing {missing}, late {late}".format(**counts),
    )
    own = await power.handler.feedback(early.id)
    say("Power Co", f"sees only its own answer ({own['own']['verdict']}), never another operator's")

    # 6 ---------------------------------------------------------------------------------
    timeline.step(6, "Confirmed: a high-confidence countermeasure for all members")
    base = {
        "kind": "countermeasure",
        "confidence": "high",
        "tlp": "GREEN",
        "scope": cast.scope(
            cast.tier_one, cast.tier_two, cast.general, exclude_attributes=["law_enforcement"]
        ),
        "derived_from": [early.id],
    }
    detailed = await vendor_a.handler.submit(
        {
            **base,
            "secret": True,
            "title": cast.title("Confirmed worm: details"),
            "body": "Indicators, the infection timeline, and the patch.",
        }
    )
    public = await vendor_a.handler.submit(
        {
            **base,
            "secret": False,
            "title": cast.title("Confirmed: keep unpatched PCs off"),
            "body": "Patch offline before switching unpatched PCs on.",
        }
    )
    say(
        "Vendor A",
        f"secret version: {detailed.recipients} recipients, dropped "
        f"{dict(detailed.dropped)}; non-secret version: {public.recipients} recipients",
    )
    for member in (maker, university, power):
        assert await _opens(member.handler, detailed.id)
    say("Maker D, University G, Power Co", "open both versions", ok=True)
    for member in (refuser, handlerless):
        assert not await _opens(member.handler, detailed.id)
        assert await _opens(member.plain, public.id)
        say(_short(member), "gets only the non-secret version", ok=True)
    assert not await _opens(police.handler, public.id)
    say("Police", "excluded by attribute (law enforcement): gets neither", ok=False)

    # 7 ---------------------------------------------------------------------------------
    timeline.step(7, "A manufacturer consults privately: something feels off")
    asked = await maker.plain.consult(
        cast.title("File server acting strangely"),
        "Our file server has behaved oddly since this morning.",
    )
    say("Maker D", "opens a consultation without revealing itself")
    view = await vendor_b.handler.get_consultation(asked.id)
    assert (view.model_extra or {}).get("consulter") is None
    say("Vendor B", "reads it; who asked is hidden")
    await vendor_b.handler.reply_consultation(asked.id, "Check port 445; isolate the server.")
    say("Vendor B", "answers privately", ok=True)
    back = await maker.handler.get_consultation(asked.id)
    say("Maker D", f"reads the answer: {back.replies[-1]['body']!r}")
    known = await cast.coordinator.get_consultation(asked.id)
    consulter = (known.model_extra or {}).get("consulter") or {}
    say("coordinator", f"alone knows who asked: {consulter.get('name')}")
    for outsider, label in ((power.handler, "Power Co"), (cast.secretariat, "secretariat")):
        try:
            await outsider.get_consultation(asked.id)
        except NotFound:
            say(label, "gets 404 for the consultation", ok=False)

    # 8 ---------------------------------------------------------------------------------
    timeline.step(8, "The secretariat reviews the access log, reading no content")
    trail = await cast.secretariat.audit(item=analysis.id, limit=200)
    actions: dict[str, int] = {}
    for event in trail.items:
        key = f"{event.action} ({event.outcome})"
        actions[key] = actions.get(key, 0) + 1
    say(
        "secretariat",
        "access log of the analysis: " + ", ".join(f"{k} x{v}" for k, v in sorted(actions.items())),
    )
    assert not await _opens(cast.secretariat, analysis.id)
    say("secretariat", "gets 404 opening the analysis: no content without break-glass", ok=False)
    try:
        checkpoint = await cast.secretariat.latest_checkpoint()
        say(
            "secretariat",
            f"latest signed checkpoint: {checkpoint.size} events, key "
            f"{checkpoint.key_id}; verify offline with `council-broker audit verify`",
        )
    except NotFound:
        say(
            "secretariat",
            "no signed checkpoint yet; `council-broker audit verify` checks the chain",
        )

    # 9 ---------------------------------------------------------------------------------
    timeline.step(9, "The coordinator's contribution ledger for the week")
    ledger = await cast.coordinator.ledger()
    ours = {m.id: _short(m) for m in (*cast.tier_one, *cast.tier_two)}
    table = Table("member", "original", "feedback", "on time", "late", "missing", "flag")
    for row in ledger["items"]:
        if row["member_id"] not in ours:
            continue
        table.add_row(
            ours[row["member_id"]],
            str(row["original_submissions"]),
            str(row["feedback_given"]),
            str(row["answers_on_time"]),
            str(row["answers_late"]),
            str(row["answers_missing"]),
            "[red]" + ", ".join(row["reasons"]) + "[/red]" if row["flagged"] else "",
        )
    timeline.console.print(table)

    await _last_act(cast, timeline, analysis.id)


SEATS = 4
"""Demo committee seats: three yes votes are three quarters of them (art. 8(2))."""


def _watch(client: CouncilClient) -> tuple[asyncio.Event, asyncio.Task[str]]:
    """Follow `client`'s live stream in the background: set once it delivers, done with
    the reason the broker gave when it ends the stream."""
    connected = asyncio.Event()

    async def follow() -> str:
        try:
            # From the start: its first event proves the connection is up.
            async with aclosing(client.follow("0")) as events:
                async for _ in events:
                    connected.set()
        except StreamClosed as closed:
            return closed.code
        return "ended"

    return connected, asyncio.create_task(follow())


async def _sees(load: Awaitable[object]) -> bool:
    try:
        await load
    except NotFound:
        return False
    return True


async def _last_act(cast: DemoCast, timeline: Timeline, analysis_id: str) -> None:
    _, vendor_b, vendor_c = cast.tier_one
    say = timeline.event
    suspect, reporter = _short(vendor_b), _short(vendor_c)

    # 10 --------------------------------------------------------------------------------
    timeline.step(10, "A leak is reported; the committee restricts the suspect at ¾")
    connected, watching = _watch(vendor_b.handler)
    seat_ids: list[str] = []
    seats: list[CouncilClient] = []
    try:
        await asyncio.wait_for(connected.wait(), 10)
        say(suspect, "follows its live stream")
        report = await vendor_c.handler.report(
            "leak",
            f"{cast.title('our analysis')} is quoted word for word in a bulletin {suspect} "
            "sent to its customers, outside the tier-one group",
            item_id=analysis_id,
            member_id=vendor_b.id,
        )
        say(reporter, f"reports a suspected leak to the secretariat (report {report.id})", ok=True)
        hidden = not await _sees(vendor_b.handler.get_report(report.id))
        say(suspect, "cannot see the report, nor who filed it (404)", ok=not hidden)
        await cast.secretariat.update_report(
            report.id, "investigating", note="restriction proposed"
        )
        for n in range(1, SEATS + 1):
            created, token = await cast.coordinator.create_user(
                cast.secretariat_id, f"{cast.prefix} committee seat {n}", "committee"
            )
            seat_ids.append(created.id)
            seats.append(CouncilClient(cast.coordinator.base_url, token))
        resolution = await cast.secretariat.create_resolution(
            "restriction",
            cast.title(f"Restrict information sharing with {suspect}"),
            subject_member_id=vendor_b.id,
            text=f"Report {report.id}: suspected leak of a tier-one analysis (art. 8(2)).",
        )
        tally = resolution.tally
        say(
            "secretariat",
            f"opens a restriction resolution citing report {report.id}: "
            f"{tally.get('entitled')} seats entitled, ¾ needed",
        )
        unwarned = not await _sees(vendor_b.handler.get_resolution(resolution.id))
        say(suspect, "is not warned: the open resolution is a 404 to it", ok=not unwarned)
        decided = resolution
        for n, seat in enumerate(seats, start=1):
            decided = await seat.vote(resolution.id, "yes")
            votes = decided.tally
            say(
                f"seat {n}",
                f"votes yes: {votes.get('yes')} of {votes.get('entitled')} -> {decided.status}",
            )
            if decided.status != "open":
                break
        if decided.status != "passed":
            say("committee", f"the demo's seats did not reach ¾ here: {decided.status}", ok=False)
            return
        reason = await asyncio.wait_for(watching, 10)
        say(suspect, f"its open stream was closed at once ({reason})", ok=False)
        lost = not await _opens(vendor_b.handler, analysis_id)
        say(suspect, "can no longer open the analysis it had received", ok=not lost)
        try:
            outcome = await vendor_b.handler.get_resolution(resolution.id)
            say(suspect, f"now sees the outcome ({outcome.status}), never who voted how")
        except NotFound:
            say(suspect, "sees nothing of the resolution")
    finally:
        watching.cancel()
        for client in seats:
            await client.aclose()
        for seat_id in seat_ids:
            # The demo's seats leave the committee again: they must not count on
            # a real committee's next decision.
            await cast.coordinator.revoke_user(cast.secretariat_id, seat_id)
