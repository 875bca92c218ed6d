"""What the templates show for the domain's values: names to translate, TLP wording, times.

Every name here is an English message id (`N_` marks it for extraction); the
templates translate it with the page's catalogue. The TLP definitions are
FIRST's TLP 2.0 wording.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from broker.domain import ItemKind, Tlp
from broker.domain.model import Confidence, ExcludableAttribute, Group
from broker.domain.reports import ReportKind
from broker.domain.resolutions import Vote
from broker.domain.timestamps import rfc3339
from broker.feedback import ObligationKind, Verdict

__all__ = ["N_", "template_filters", "template_globals"]


def N_(message: str) -> str:
    """Mark `message` for the catalogue; the template translates it when shown."""
    return message


# FIRST, Traffic Light Protocol 2.0: the definitions, word for word.
TLP_DEFINITIONS = {
    "RED": N_("For the eyes and ears of individual recipients only, no further disclosure."),
    "AMBER+STRICT": N_("Limited disclosure, restricted to the recipient's organization only."),
    "AMBER": N_(
        "Limited disclosure, recipients can only spread this on a need-to-know basis within "
        "their organization and its clients."
    ),
    "GREEN": N_("Limited disclosure, recipients can spread this within their community."),
    "CLEAR": N_("Recipients can spread this to the world, there is no limit on disclosure."),
}

VERDICT_NAMES = {
    "came": N_("Came"),
    "not_came": N_("Not came"),
    "unknown": N_("Don't know"),
    "confirm": N_("Confirm"),
    "refute": N_("Refute"),
    "additional_info": N_("Additional information"),
}

VERDICTS = {
    ObligationKind.QUICK_ANSWER.value: ("came", "not_came", "unknown"),
    ObligationKind.EXPERT_FEEDBACK.value: ("confirm", "refute", "additional_info"),
}

OBLIGATION_NAMES = {
    "quick_answer": N_("Quick answer"),
    "expert_feedback": N_("Expert feedback"),
}

KIND_NAMES = {
    "analysis": N_("Analysis"),
    "countermeasure": N_("Countermeasure"),
    "early_warning": N_("Early warning"),
    "consultation": N_("Consultation"),
    "notice": N_("Notice"),
}

CONFIDENCE_NAMES = {
    "unconfirmed": N_("Unconfirmed"),
    "low": N_("Low"),
    "high": N_("High"),
}

GROUP_NAMES = {
    "tier_one_group": N_("Tier-one group (tier one and the coordinator)"),
    "tier_two": N_("Tier two"),
    "task_force": N_("The task force (tier one and tier two)"),
    "all_members": N_("All members"),
    "coordinator": N_("The coordinator alone"),
}

ATTRIBUTE_NAMES = {
    "law_enforcement": N_("Investigative bodies"),
    "regulator": N_("Supervisory agencies"),
    "foreign": N_("Foreign members"),
}

AUDIENCE_NAMES = {
    "named_recipients": N_("the named recipients only"),
    "organisation": N_("your organisation only"),
    "organisation_and_clients": N_("your organisation and its clients, on a need-to-know basis"),
    "community": N_("your community"),
    "public": N_("anyone"),
}

ROLE_NAMES = {
    "coordinator": N_("Coordinator"),
    "secretariat": N_("Secretariat"),
    "tier_one": N_("Tier one"),
    "tier_two": N_("Tier two"),
    "member": N_("Member"),
}

BODY_NAMES = {
    "member": N_("Member"),
    "coordinator": N_("Coordinator"),
    "secretariat": N_("Secretariat"),
}

TIER_NAMES = {"none": N_("General member"), "tier_one": N_("Tier one"), "tier_two": N_("Tier two")}

STATUS_NAMES = {
    "applicant": N_("Applicant"),
    "active": N_("Active"),
    "restricted": N_("Restricted"),
    "withdrawn": N_("Withdrawn"),
    "expelled": N_("Expelled"),
}

CATEGORY_NAMES = {
    "government": N_("Government"),
    "local_government": N_("Local government"),
    "critical_infrastructure": N_("Critical infrastructure"),
    "cyber_business": N_("Security vendor"),
    "academia": N_("Academia"),
    "other": N_("Other"),
}

USER_ROLE_NAMES = {
    "member_user": N_("User"),
    "member_admin": N_("Administrator"),
    "committee": N_("Committee seat"),
}

OUTCOME_NAMES = {"allowed": N_("allowed"), "denied": N_("denied"), "error": N_("error")}

VICTIM_FIELDS = {"name": N_("Name"), "damage": N_("Damage present")}

DUES = (
    ("PT1H", N_("In 1 hour")),
    ("PT4H", N_("In 4 hours")),
    ("PT24H", N_("In 24 hours")),
    ("P3D", N_("In 3 days")),
)

RESOLUTION_KIND_NAMES = {
    "admission": N_("Admission"),
    "restriction": N_("Restriction"),
    "lift_restriction": N_("Lifting a restriction"),
    "expulsion": N_("Expulsion"),
    "task_force_exception": N_("Task force exception"),
    "information_request": N_("Information request"),
    "amendment": N_("Amendment"),
    "assembly_matter": N_("Assembly matter"),
}

RESOLUTION_STATUS_NAMES = {
    "open": N_("Open for votes"),
    "passed": N_("Passed"),
    "failed": N_("Failed"),
    "no_quorum": N_("No quorum"),
    "refused": N_("Refused"),
}

VOTE_NAMES = {"yes": N_("Yes"), "no": N_("No"), "abstain": N_("Abstain")}

REPORT_KIND_NAMES = {
    "leak": N_("Leak"),
    "scope_breach": N_("Scope breach"),
    "misuse": N_("Misuse"),
    "other": N_("Other"),
}

REPORT_STATUS_NAMES = {
    "received": N_("Received, awaiting review"),
    "investigating": N_("Investigating"),
    "closed": N_("Closed"),
}

AUDIT_FILTERS = (
    ("member", N_("Member id")),
    ("user", N_("User id")),
    ("item", N_("Item id")),
    ("action", N_("Action (e.g. item.read)")),
    ("outcome", N_("Outcome")),
    ("since", N_("Since (RFC 3339)")),
    ("until", N_("Until (RFC 3339)")),
)


def _when(moment: datetime | None) -> str:
    """A time as people read it on this page: UTC, to the minute."""
    if moment is None:
        return ""
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _rfc3339(moment: datetime | str) -> str:
    return moment if isinstance(moment, str) else rfc3339(moment)


def template_filters() -> dict[str, Callable[..., Any]]:
    """Filters every template may use."""
    return {"when": _when, "rfc3339": _rfc3339}


def template_globals() -> dict[str, Any]:
    """Names every template may use."""
    return {
        "tlp_definitions": TLP_DEFINITIONS,
        "verdict_names": VERDICT_NAMES,
        "verdicts": VERDICTS,
        "obligation_names": OBLIGATION_NAMES,
        "kind_names": KIND_NAMES,
        "confidence_names": CONFIDENCE_NAMES,
        "group_names": GROUP_NAMES,
        "attribute_names": ATTRIBUTE_NAMES,
        "audience_names": AUDIENCE_NAMES,
        "role_names": ROLE_NAMES,
        "body_names": BODY_NAMES,
        "tier_names": TIER_NAMES,
        "status_names": STATUS_NAMES,
        "category_names": CATEGORY_NAMES,
        "user_role_names": USER_ROLE_NAMES,
        "outcome_names": OUTCOME_NAMES,
        "victim_fields": VICTIM_FIELDS,
        "dues": DUES,
        "resolution_kind_names": RESOLUTION_KIND_NAMES,
        "resolution_status_names": RESOLUTION_STATUS_NAMES,
        "vote_names": VOTE_NAMES,
        "votes": [v.value for v in Vote],
        "report_kind_names": REPORT_KIND_NAMES,
        "report_kinds": [k.value for k in ReportKind],
        "report_status_names": REPORT_STATUS_NAMES,
        "filter_fields": AUDIT_FILTERS,
        "tlps": [t.value for t in Tlp],
        "kinds": [
            k.value for k in ItemKind if k not in (ItemKind.CONSULTATION, ItemKind.EARLY_WARNING)
        ],
        "confidences": [c.value for c in Confidence],
        "groups": [g.value for g in Group],
        "attributes": [a.value for a in ExcludableAttribute],
        "outcomes": ("allowed", "denied", "error"),
        "all_verdicts": [v.value for v in Verdict],
    }
