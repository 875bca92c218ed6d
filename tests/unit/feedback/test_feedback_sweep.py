"""The sweeper: a reminder before the deadline, the overdue mark after it, each once (SPEC §4)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta

import pytest
from feedback_factories import HOUR, T0, obligation
from hypothesis import given
from hypothesis import strategies as st

from broker.feedback import (
    Obligation,
    Overdue,
    Reminder,
    answer,
    apply,
    cancel_for_withdrawal,
    close_for_departure,
    next_action,
    sweep,
)

DUE = T0 + 4 * HOUR
LEAD = HOUR
MINUTE = timedelta(minutes=1)


def reminder(ob: Obligation) -> Reminder:
    """The reminder the sweeper should emit for `ob`."""
    return Reminder(ob.id, ob.member_id, ob.item_id, ob.due_at)


def overdue(ob: Obligation) -> Overdue:
    """The overdue mark the sweeper should emit for `ob`."""
    return Overdue(ob.id, ob.member_id, ob.item_id, ob.due_at)


def restarted(ob: Obligation) -> Obligation:
    """`ob` as a restarted process reads it back: rebuilt from its persisted fields only."""
    return Obligation(**asdict(ob))


def test_nothing_happens_before_the_reminder_window() -> None:
    """An open obligation due later than the reminder lead yields no action."""
    assert sweep([obligation()], DUE - LEAD - MINUTE, LEAD) == []


def test_a_reminder_goes_out_within_the_lead_before_due() -> None:
    """Within the reminder lead before the due time an open obligation gets a reminder."""
    ob = obligation()
    assert sweep([ob], DUE - LEAD, LEAD) == [reminder(ob)]
    assert sweep([ob], DUE - MINUTE, LEAD) == [reminder(ob)]


def test_an_applied_reminder_is_not_repeated_even_after_a_restart() -> None:
    """Once applied, a reminder is recorded in reminded_at and a later sweep emits nothing."""
    ob = obligation()
    ob = apply(ob, sweep([ob], DUE - LEAD, LEAD)[0], DUE - LEAD)
    assert ob.reminded_at == DUE - LEAD
    assert sweep([ob], DUE - LEAD, LEAD) == []
    assert sweep([restarted(ob)], DUE - MINUTE, LEAD) == []


def test_overdue_is_marked_from_the_due_time_once() -> None:
    """From the due time an open obligation is marked overdue once, across restarts."""
    ob = apply(obligation(), reminder(obligation()), DUE - LEAD)
    assert sweep([ob], DUE, LEAD) == [overdue(ob)]
    ob = apply(ob, overdue(ob), DUE)
    assert ob.overdue_marked_at == DUE
    assert sweep([restarted(ob)], DUE + 24 * HOUR, LEAD) == []


def test_a_missed_window_gets_only_the_overdue_mark() -> None:
    """An obligation whose due time passed before any reminder gets Overdue, no late reminder."""
    ob = obligation()
    assert sweep([ob], DUE + HOUR, LEAD) == [overdue(ob)]
    ob = apply(ob, overdue(ob), DUE + HOUR)
    assert ob.reminded_at is None
    assert sweep([ob], DUE + 2 * HOUR, LEAD) == []


def test_answered_cancelled_and_closed_obligations_are_not_swept() -> None:
    """Only open obligations get reminders or overdue marks."""
    done = [
        answer(obligation("a"), "came", None, T0),
        cancel_for_withdrawal(obligation("c")),
        close_for_departure(obligation("d")),
    ]
    assert sweep(done, DUE - MINUTE, LEAD) == []
    assert sweep(done, DUE + HOUR, LEAD) == []


def test_actions_come_earliest_deadline_first() -> None:
    """Sweep actions are ordered by due time, then by obligation id."""
    later = obligation("ob-a", due_at=DUE + 30 * MINUTE)
    first_b = obligation("ob-b", due_at=DUE)
    first_a = obligation("ob-c", due_at=DUE)
    earlier = obligation("ob-d", due_at=DUE - 2 * HOUR)
    actions = sweep([later, first_a, first_b, earlier], DUE - MINUTE, LEAD)
    assert [a.ob_id for a in actions] == ["ob-d", "ob-b", "ob-c", "ob-a"]
    assert isinstance(actions[0], Overdue) and isinstance(actions[1], Reminder)


def test_a_zero_lead_sends_no_reminders() -> None:
    """With no reminder lead only overdue marks are emitted."""
    ob = obligation()
    assert sweep([ob], DUE - MINUTE, timedelta(0)) == []
    assert sweep([ob], DUE, timedelta(0)) == [overdue(ob)]


def test_bad_sweep_arguments_are_refused() -> None:
    """A negative reminder lead or a naive now is a ValueError."""
    with pytest.raises(ValueError, match="negative"):
        sweep([obligation()], T0, -LEAD)
    with pytest.raises(ValueError, match="timezone-aware"):
        sweep([obligation()], T0.replace(tzinfo=None), LEAD)


def test_applying_an_action_to_another_obligation_is_refused() -> None:
    """An action applied to an obligation it was not decided for is a ValueError."""
    with pytest.raises(ValueError, match="applied to"):
        apply(obligation("ob-1"), reminder(obligation("ob-2")), DUE - MINUTE)


def test_applying_twice_changes_once() -> None:
    """Applying the same action a second time returns the obligation unchanged."""
    ob = obligation()
    once = apply(ob, reminder(ob), DUE - LEAD)
    assert once is not ob
    assert apply(once, reminder(ob), DUE - MINUTE) is once
    marked = apply(once, overdue(ob), DUE)
    assert apply(marked, overdue(ob), DUE + HOUR) is marked


def test_stale_actions_change_nothing() -> None:
    """An action that no longer holds when applied leaves the obligation as it is."""
    ob = obligation()
    # The deadline passed between the sweep and the apply: no late reminder.
    assert apply(ob, reminder(ob), DUE) is ob
    # An overdue mark decided for a later time is not applied early.
    assert apply(ob, overdue(ob), DUE - MINUTE) is ob
    # Answered or lifted since the sweep.
    answered = answer(ob, "came", None, DUE - 2 * MINUTE)
    assert apply(answered, reminder(ob), DUE - MINUTE) is answered
    cancelled = cancel_for_withdrawal(ob)
    assert apply(cancelled, overdue(ob), DUE) is cancelled


def test_next_action_decides_for_one_obligation() -> None:
    """next_action gives the single action due for one obligation, or None."""
    ob = obligation()
    assert next_action(ob, T0, LEAD) is None
    assert next_action(ob, DUE - MINUTE, LEAD) == reminder(ob)
    assert next_action(ob, DUE, LEAD) == overdue(ob)


# --- property: sweep + apply against a plain reference model ----------------


@st.composite
def scenarios(
    draw: st.DrawFn,
) -> tuple[list[Obligation], dict[str, int], list[int], timedelta]:
    """Obligations (due offsets in minutes), answer times, sorted sweep times, a lead."""
    count = draw(st.integers(min_value=1, max_value=6))
    obligations = [
        obligation(f"ob-{n}", due_at=T0 + draw(st.integers(0, 300)) * MINUTE) for n in range(count)
    ]
    answers = {
        ob.id: minute
        for ob in obligations
        if (minute := draw(st.none() | st.integers(0, 400))) is not None
    }
    times = sorted(draw(st.lists(st.integers(0, 400), min_size=1, max_size=12)))
    lead = draw(st.integers(0, 120)) * MINUTE
    return obligations, answers, times, lead


def at(minute: int) -> datetime:
    """The instant `minute` minutes after T0."""
    return T0 + minute * MINUTE


def expected_notifications(
    obligations: list[Obligation], answers: dict[str, int], times: list[int], lead: timedelta
) -> set[tuple[str, str, int]]:
    """Reference model: the first sweep in each window, unless answered by then."""
    expected: set[tuple[str, str, int]] = set()
    for ob in obligations:
        answered = answers.get(ob.id)
        open_at = [t for t in times if answered is None or t < answered]
        window = [t for t in open_at if ob.due_at - lead <= at(t) < ob.due_at]
        late = [t for t in open_at if at(t) >= ob.due_at]
        if window:
            expected.add(("reminder", ob.id, window[0]))
        if late:
            expected.add(("overdue", ob.id, late[0]))
    return expected


@given(scenarios())
def test_sweep_and_apply_notify_once_never_remind_after_due(
    scenario: tuple[list[Obligation], dict[str, int], list[int], timedelta],
) -> None:
    """Repeated sweeps with apply match the reference model, are idempotent, never remind late."""
    obligations, answers, times, lead = scenario
    store = {ob.id: ob for ob in obligations}
    sent: list[tuple[str, str, int]] = []
    for minute in times:
        now = at(minute)
        for ob_id, answered in answers.items():
            if answered <= minute and store[ob_id].is_open:
                store[ob_id] = answer(store[ob_id], "came", None, at(answered))
        store = {ob_id: restarted(ob) for ob_id, ob in store.items()}  # state is in the fields
        for action in sweep(store.values(), now, lead):
            if isinstance(action, Reminder):
                assert now < action.due_at, "a reminder after the due time"
            before = store[action.ob_id]
            after = apply(before, action, now)
            assert apply(after, action, now) is after, "apply is not idempotent"
            if after is not before:
                kind = "reminder" if isinstance(action, Reminder) else "overdue"
                sent.append((kind, action.ob_id, minute))
            store[action.ob_id] = after
        assert sweep(store.values(), now, lead) == [], "a second sweep found work"
    assert len(sent) == len(set(sent))
    assert set(sent) == expected_notifications(obligations, answers, times, lead)
