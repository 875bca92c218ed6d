"""Every code the broker refuses with has its one-line fix (found by introspection)."""

from __future__ import annotations

import inspect
import re
from enum import StrEnum
from pathlib import Path

import pytest

import broker.errors
import broker.feedback
import broker.tlp
from broker.errors import BrokerError
from broker.feedback import FeedbackError
from broker.tlp.fixes import FIXES, fix_for


def _refusal_enums() -> list[type[StrEnum]]:
    """The policy's vocabularies of refusal: every StrEnum broker.tlp exports whose name
    says it answers why (Reason, TargetRefusal), found by looking, not listed by hand."""
    found = [
        obj
        for _, obj in inspect.getmembers(broker.tlp, inspect.isclass)
        if issubclass(obj, StrEnum) and ("Reason" in obj.__name__ or "Refusal" in obj.__name__)
    ]
    assert {e.__name__ for e in found} >= {"Reason", "TargetRefusal"}
    return found


def _subclasses(cls: type) -> list[type]:
    out = [cls]
    for sub in cls.__subclasses__():
        out.extend(_subclasses(sub))
    return out


def _codes() -> list[str]:
    codes = [str(member) for enum in _refusal_enums() for member in enum]
    feedback_errors = {
        obj
        for _, obj in inspect.getmembers(broker.feedback, inspect.isclass)
        if issubclass(obj, FeedbackError)
    }
    codes += [
        cls.code for cls in sorted(feedback_errors | set(_subclasses(FeedbackError)), key=str)
    ]
    http_errors = {
        obj
        for _, obj in inspect.getmembers(broker.errors, inspect.isclass)
        if issubclass(obj, BrokerError)
    }
    codes += [cls.code for cls in sorted(http_errors | set(_subclasses(BrokerError)), key=str)]
    return codes + _precise_codes()


_PRECISE = re.compile(r'\bcode="([a-z_]+)"')


def _precise_codes() -> list[str]:
    """The precise codes the use cases give an error (`Conflict(..., code="closed")`),
    found by reading the services' source, so a new one cannot go without its fix."""
    services = Path(broker.errors.__file__).parent / "services"
    found = {
        match
        for path in sorted(services.glob("*.py"))
        for match in _PRECISE.findall(path.read_text(encoding="utf-8"))
    }
    assert {"already_voted", "decided_by_resolution"} <= found
    return sorted(found)


@pytest.mark.parametrize("code", _codes())
def test_every_code_has_a_one_line_fix(code: str) -> None:
    """A fix exists, is one line a person can read, and does not just repeat the code."""
    fix = fix_for(code)
    assert fix, f"no fix for {code!r}: add one to broker/tlp/fixes.py"
    assert "\n" not in fix and 15 <= len(fix) <= 200, fix
    assert fix != code and not fix.endswith(".")


def test_feedback_codes_are_distinct_and_fixes_hold_no_stray_entries() -> None:
    """Each feedback error has its own code; every fix answers a code the broker uses."""
    codes = _codes()
    feedback = [cls.code for cls in _subclasses(FeedbackError)]
    assert len(set(feedback)) == len(feedback)
    # The service's own answer when nothing is owed is the only code not drawn from a class.
    assert set(FIXES) - set(codes) <= {
        "no_obligation",
        "method_not_allowed",
        "http_error",
        "chair_taken",  # the members service answers it as an audited reason
    }


def test_an_error_body_carries_the_fix_of_its_reason_else_its_code() -> None:
    """`fix` comes from the reason when there is one, from the code otherwise."""
    refused = broker.errors.Forbidden("no", reason="submitter_not_handler").to_json()["error"]
    assert refused["reason"] == "submitter_not_handler"
    assert refused["fix"] == fix_for("submitter_not_handler")
    plain = broker.errors.NotFound().to_json()["error"]
    assert "reason" not in plain and plain["fix"] == fix_for("not_found")
    told = broker.errors.Conflict("no", fix="do this instead").to_json()["error"]
    assert told["fix"] == "do this instead"
