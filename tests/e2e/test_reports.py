"""Violation reports to the secretariat through the HTTP API (charter art. 29), on
SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text, update

from broker.store.tables import reports
from clients.cli.main import run
from clients.sdk import Conflict, CouncilClient, Forbidden, Invalid, NotFound, ServerError
from tests.conftest import Broker
from tests.council import Org, decide_status, draft, make_org


async def _secretariat(broker: Broker) -> tuple[str, CouncilClient, CouncilClient]:
    """The secretariat's id, a staff user and a committee seat."""
    bodies = await broker.admin.list_members()
    secretariat = next(m.id for m in bodies.items if m.kind == "secretariat")
    _, staff = await broker.admin.create_user(secretariat, "Secretariat staff", "member_user")
    _, seat = await broker.admin.create_user(secretariat, "Seat", "committee")
    return secretariat, broker.client(staff), broker.client(seat)


async def _cast(broker: Broker) -> tuple[Org, Org, Org]:
    reporter = await make_org(broker, "Vendor A", tier="tier_one")
    suspect = await make_org(broker, "Vendor B", tier="tier_one")
    bystander = await make_org(broker, "Maker Co", category="other")
    return reporter, suspect, bystander


async def test_art29_a_report_goes_to_the_secretariat_and_moves_forward_only(
    broker: Broker,
) -> None:
    """Art. 29: a member's user reports a suspected leak; the secretariat sees it, moves it
    received -> investigating -> closed with notes the reporter reads; it never moves
    back, and a closed report stays closed."""
    reporter, suspect, _ = await _cast(broker)
    _, staff, _ = await _secretariat(broker)
    item = await reporter.handler.submit(draft())
    text = "Vendor B's customer bulletin quotes our unconfirmed analysis word for word"
    filed = await reporter.handler.report("leak", text, item_id=item.id, member_id=suspect.id)
    assert (filed.kind, filed.status, filed.text, filed.item_id, filed.member_id) == (
        "leak",
        "received",
        text,
        item.id,
        suspect.id,
    )
    assert [r.id for r in (await staff.reports()).items] == [filed.id]
    assert [r.id for r in (await reporter.handler.reports()).items] == [filed.id]
    seen = await staff.get_report(filed.id)
    assert (seen.text, seen.reporter) == (
        text,
        {"member_id": reporter.id, "user_id": reporter.handler_user_id},
    )
    moved = await staff.update_report(filed.id, "investigating", note="asked Vendor B")
    assert (moved.status, moved.note) == ("investigating", "asked Vendor B")
    mine = await reporter.handler.get_report(filed.id)
    assert (mine.status, mine.note, mine.text) == ("investigating", "asked Vendor B", text)
    with pytest.raises(Conflict):
        await staff.update_report(filed.id, "received")
    with pytest.raises(Forbidden):
        await reporter.handler.update_report(filed.id, "closed")
    closed = await staff.update_report(filed.id, "closed", note="restriction proposed")
    assert (closed.status, closed.note) == ("closed", "restriction proposed")
    with pytest.raises(Conflict):
        await staff.update_report(filed.id, "closed", note="one more thing")
    assert (await staff.get_report(filed.id)).id == filed.id  # the id stays: it can be cited


async def test_art29_the_member_reported_on_never_learns_of_the_report(broker: Broker) -> None:
    """Only the reporter and the secretariat's staff see a report. The member it names, the
    reporter's own colleagues, the coordinator and the committee's seats get the same 404
    as for a report that does not exist, and empty listings; the audit names neither the
    item nor the member, so neither the item's access log nor the audit about the member
    shows who reported."""
    reporter, suspect, bystander = await _cast(broker)
    _, staff, seat = await _secretariat(broker)
    item = await suspect.handler.submit(draft())
    text = "suspected leak of the worm analysis"
    filed = await reporter.handler.report("leak", text, item_id=item.id, member_id=suspect.id)
    outsiders = [
        suspect.admin,
        suspect.handler,
        reporter.admin,  # a report may concern the reporter's own organisation
        reporter.plain,
        bystander.admin,
        broker.admin,
        seat,
    ]
    for client in outsiders:
        with pytest.raises(NotFound) as absent:
            await client.get_report(filed.id)
        with pytest.raises(NotFound) as unknown:
            await client.get_report("01JNOSUCHREPORT0000000000")
        assert absent.value.message == unknown.value.message
        assert (await client.reports()).items == []
        with pytest.raises(NotFound):
            await client.update_report(filed.id, "closed")
    assert (await staff.get_report(filed.id)).status == "received"
    # The suspect's provider view of its item: no trace of the report.
    log = await suspect.handler.access_log(item.id)
    assert not [e for e in log.items if e.action.startswith("report.")]
    about_suspect = await broker.admin.audit(member=suspect.id)
    assert not [e for e in about_suspect.items if e.action == "report.create"]
    [created] = (await broker.admin.audit(action="report.create")).items
    assert (created.item_id, created.subject_member_id) == (None, None)
    assert created.details == {"report_id": filed.id, "kind": "leak"}
    assert text not in str(created.model_dump())


async def test_art29_who_may_file_a_report(broker: Broker) -> None:
    """Users of active members and of the coordinator file reports; the secretariat
    receives them and files none; a restricted member and an applicant file none; input
    is checked."""
    reporter, suspect, _ = await _cast(broker)
    await decide_status(broker, suspect.id, "restricted")  # before other seats are added
    _, staff, seat = await _secretariat(broker)
    assert (await broker.admin.report("misuse", "a bulletin reused our feed")).kind == "misuse"
    assert (await reporter.plain.report("other", "odd request")).status == "received"
    for client in (staff, seat):
        with pytest.raises(Forbidden):
            await client.report("leak", "the secretariat files no reports")
    with pytest.raises(Forbidden):
        await suspect.handler.report("leak", "the others leak too")
    applicant = await make_org(broker, "Applicant Co", category="other", status="applicant")
    with pytest.raises(Forbidden):
        await applicant.handler.report("leak", "not a member yet")
    with pytest.raises(Invalid):
        await reporter.handler.report("gossip", "not a kind of report")
    with pytest.raises(Invalid):
        await reporter.handler.report("leak", "")
    assert len((await staff.reports()).items) == 2
    assert [r.text for r in (await reporter.plain.reports()).items] == ["odd request"]


async def test_art29_reports_page_newest_first(broker: Broker) -> None:
    """The secretariat pages through every report, newest first, nothing repeated."""
    reporter, _, _ = await _cast(broker)
    _, staff, _ = await _secretariat(broker)
    filed = [(await reporter.handler.report("other", f"report {n}")).id for n in range(5)]
    first = await staff.reports(limit=2)
    second = await staff.reports(limit=2, cursor=first.next_cursor)
    third = await staff.reports(limit=2, cursor=second.next_cursor)
    listed = [r.id for page in (first, second, third) for r in page.items]
    assert listed == list(reversed(filed))
    assert third.next_cursor is None


async def test_art29_a_report_is_sealed_at_rest_and_bound_to_its_reporter(broker: Broker) -> None:
    """Neither the text, nor the item and member it names, nor the note is stored in the
    clear; moving a report to another reporter in the database breaks the seal (an audited
    integrity error), it never silently hands the report to someone else."""
    reporter, suspect, bystander = await _cast(broker)
    _, staff, _ = await _secretariat(broker)
    text_in_clear = "the suspect forwarded our bulletin to a journalist"
    filed = await reporter.handler.report(
        "leak", text_in_clear, item_id="01HZITEMNAMEDINTHEREPORT00", member_id=suspect.id
    )
    await staff.update_report(filed.id, "investigating", note="called the suspect's admin")
    db = broker.database()
    try:
        async with db.read() as conn:
            rows = (await conn.execute(text("SELECT * FROM reports"))).all()
        dumped = b"".join(v if isinstance(v, bytes) else str(v).encode() for r in rows for v in r)
        for clear in (text_in_clear, "01HZITEMNAMEDINTHEREPORT00", suspect.id, "journalist"):
            assert clear.encode() not in dumped
        async with db.write() as conn:
            await conn.execute(
                update(reports)
                .where(reports.c.id == filed.id)
                .values(member_id=bystander.id, user_id=bystander.handler_user_id)
            )
    finally:
        await db.dispose()
    with pytest.raises(ServerError) as alarm:
        await bystander.handler.get_report(filed.id)
    assert alarm.value.code == "integrity_error"
    trail = (await broker.admin.audit(action="integrity.alarm")).items
    assert [(e.outcome, e.details) for e in trail] == [("error", {"report_id": filed.id})]


async def test_council_report_and_reports_against_the_broker(
    broker: Broker, capsys: pytest.CaptureFixture[str]
) -> None:
    """`council report` files a report that `council reports` lists for the reporter and
    for the secretariat, and for no one else."""
    reporter, suspect, _ = await _cast(broker)
    _, staff, _ = await _secretariat(broker)

    async def council_cmd(client: CouncilClient, *argv: str) -> tuple[int, str]:
        code = await run(
            list(argv),
            client_factory=lambda url, tok: CouncilClient(url, tok),
            env={"COUNCIL_URL": broker.url, "COUNCIL_TOKEN": client._token or ""},
        )
        return code, capsys.readouterr().out

    code, out = await council_cmd(
        reporter.handler, "report", "scope_breach", "--text", "forwarded", "--member", suspect.id
    )
    assert code == 0, out
    code, out = await council_cmd(reporter.handler, "reports", "--json")
    [mine] = json.loads(out)["items"]
    assert (mine["kind"], mine["member_id"]) == ("scope_breach", suspect.id)
    code, out = await council_cmd(staff, "reports")
    assert code == 0 and mine["id"] in out
    code, out = await council_cmd(suspect.admin, "reports")
    assert (code, out.strip()) == (0, "no reports")
