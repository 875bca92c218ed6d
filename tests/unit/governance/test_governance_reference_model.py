"""The governance rules against a plain reference model, on generated ballots.

The model reads the charter the long way: it walks each seat (or member) one
by one, keeps fractions instead of cross-multiplied integers, and follows each
proxy by hand; it shares no code with `broker.governance`. Under the `ci`
profile each property runs 10,000 ballots; any disagreement fails.
"""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from broker.domain.resolutions import ResolutionKind, Vote
from broker.governance import (
    AssemblyBallot,
    CommitteeBallot,
    Outcome,
    assembly_rule,
    decide,
    ordinary_rule,
    settled_early,
    three_quarters_rule,
    unanimity_rule,
)

# What one seat did: a vote, a declared recusal, or nothing.
ACTS = ("yes", "no", "abstain", "recused", "absent")
COMMITTEE_KINDS = [k for k in ResolutionKind if k not in (ResolutionKind.AMENDMENT,)]
COMMITTEE_KINDS.remove(ResolutionKind.ASSEMBLY_MATTER)


def _model_committee(acts: list[str], rule: str) -> str:
    """The charter, seat by seat: art. 11(6), 8(2), 8(1)."""
    seats = len(acts)
    taking_part = 0
    entitled = 0
    yes = 0
    cast = 0
    for act in acts:
        if act != "absent":
            taking_part += 1
        if act != "recused":
            entitled += 1
        if act in ("yes", "no", "abstain"):
            cast += 1
        if act == "yes":
            yes += 1
    quorum = Fraction(taking_part, seats) > Fraction(1, 2)
    if rule == "ordinary":
        if not quorum:
            return "no_quorum"
        return "passed" if cast and Fraction(yes, cast) > Fraction(1, 2) else "failed"
    if entitled == 0:
        return "failed"
    if rule == "three_quarters":
        reached = Fraction(yes, entitled) >= Fraction(3, 4)
    else:
        reached = yes == entitled
    if reached:
        return "passed"
    return "failed" if quorum else "no_quorum"


def _ballot(acts: list[str]) -> CommitteeBallot:
    seats = [f"seat-{i}" for i in range(len(acts))]
    votes = {s: Vote(a) for s, a in zip(seats, acts, strict=True) if a in ("yes", "no", "abstain")}
    recused = frozenset(s for s, a in zip(seats, acts, strict=True) if a == "recused")
    return CommitteeBallot(seats=frozenset(seats), votes=votes, recused=recused)


# Bytes, each mapped to an act: far cheaper to generate than lists of choices, so
# 10,000 ballots stay well inside a minute.
@given(st.binary(min_size=1, max_size=15), st.integers(0, len(COMMITTEE_KINDS) - 1))
def test_committee_rules_agree_with_the_model(codes: bytes, kind_code: int) -> None:
    """The ordinary rule, three quarters and unanimity decide every committee ballot
    as the seat-by-seat model does, and a restriction settles early exactly when
    three quarters is reached."""
    acts = [ACTS[c % len(ACTS)] for c in codes]
    kind = COMMITTEE_KINDS[kind_code]
    ballot = _ballot(acts)
    assert ordinary_rule(ballot).outcome.value == _model_committee(acts, "ordinary")
    assert three_quarters_rule(ballot).outcome.value == _model_committee(acts, "three_quarters")
    assert unanimity_rule(ballot).outcome.value == _model_committee(acts, "unanimity")
    tally = ordinary_rule(ballot).tally
    assert (tally.yes, tally.no, tally.abstain, tally.recused, tally.seats, tally.entitled) == (
        acts.count("yes"),
        acts.count("no"),
        acts.count("abstain"),
        acts.count("recused"),
        len(acts),
        len(acts) - acts.count("recused"),
    )
    rule = {ResolutionKind.RESTRICTION: "three_quarters", ResolutionKind.EXPULSION: "unanimity"}
    assert decide(kind, ballot).outcome.value == _model_committee(acts, rule.get(kind, "ordinary"))
    early = settled_early(kind, ballot).outcome
    if kind is ResolutionKind.RESTRICTION and _model_committee(acts, "three_quarters") == "passed":
        assert early is Outcome.PASSED
    else:
        assert early is Outcome.PENDING


# What one member did: vote, give its proxy to member n, or nothing (codes 0-3 are
# yes, no, abstain, absent; code 4 + n is a proxy to member n, possibly outside).
MEMBER_CODES = ("yes", "no", "abstain", "absent")


def _member_act(code: int) -> str:
    return MEMBER_CODES[code] if code < len(MEMBER_CODES) else f"proxy:{code - len(MEMBER_CODES)}"


def _model_assembly(acts: list[str], seat_objections: list[bool]) -> str:
    """Art. 10(5),(6), member by member: a proxy is present and votes as its holder
    voted itself; a holder outside the electorate, or one that did not vote, gives
    the proxy no vote."""
    size = len(acts)
    present = 0
    yes = 0
    for index, act in enumerate(acts):
        if act == "absent":
            continue
        if act.startswith("proxy:"):
            holder = int(act.split(":")[1])
            if holder == index:
                continue  # a proxy to oneself is no proxy
            present += 1
            if holder < size and acts[holder] == "yes":
                yes += 1
            continue
        present += 1
        if act == "yes":
            yes += 1
    if not Fraction(present, size) > Fraction(1, 2):
        return "no_quorum"
    if not Fraction(yes, present) > Fraction(1, 2):
        return "failed"
    if seat_objections and all(seat_objections):
        return "failed"
    return "passed"


@given(st.binary(min_size=1, max_size=12), st.integers(0, 5), st.integers(0, 31))
def test_assembly_rule_agrees_with_the_model(codes: bytes, seats: int, objecting: int) -> None:
    """The assembly's quorum with proxies, its majority and its proviso decide every
    generated ballot as the member-by-member model does."""
    acts = [_member_act(c % (len(MEMBER_CODES) + 12)) for c in codes]
    seat_objections = [bool(objecting >> i & 1) for i in range(seats)]
    members = [f"m-{i}" for i in range(len(acts))]
    votes = {}
    proxies = {}
    for member, act in zip(members, acts, strict=True):
        if act in ("yes", "no", "abstain"):
            votes[member] = Vote(act)
        elif act.startswith("proxy:"):
            proxies[member] = f"m-{act.split(':')[1]}"
    seat_ids = [f"seat-{i}" for i in range(len(seat_objections))]
    ballot = AssemblyBallot(
        electorate=frozenset(members),
        votes=votes,
        proxies=proxies,
        committee_seats=frozenset(seat_ids),
        objections=frozenset(s for s, o in zip(seat_ids, seat_objections, strict=True) if o),
    )
    decision = assembly_rule(ballot)
    assert decision.outcome.value == _model_assembly(acts, seat_objections)
    assert decide(ResolutionKind.AMENDMENT, ballot).outcome is decision.outcome
    assert settled_early(ResolutionKind.AMENDMENT, ballot).outcome is Outcome.PENDING
