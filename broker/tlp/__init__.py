"""The access policy of the broker: every decision on who receives, reads, shares.

Pure: no IO, no clock, no framework. The services load snapshots
(`broker.domain`), ask here, and act on the answer; every answer is a
`Decision` whose reasons the services audit (SPEC §3, rule 10).

    scope        in_scope                        charter art. 17(1), 19(2)
    routing      receives, recipients_for        SPEC §3 rules 1-7
    reading      may_read, may_break_glass,      art. 18(4), 14(3), TLP 2.0
                 is_written_reason, victim_view  charter annex
    members      may_see_member, dropped_seen_by docs/api.md: a member sees itself
    submitting   may_submit, may_change_scope,   art. 17(1), 18(3), SPEC §2
                 may_withdraw, may_consent
    deriving     may_derive, reclip,             art. 17(3), TLP 2.0 RED, rule 2
                 constraints_for_derived, needs_consent
    markings     stricter_markings,              TLP 2.0: the label travels with
                 content_markings                the content it marks
    handling     handling_for                    TLP 2.0, art. 19(4), 24(4)
    stream       may_see_event,                  docs/api.md live delivery = the inbox;
                 rights_changed, rights_until,   SPEC §3 rules 3, 7: open connections
                 may_keep_stream                 follow every change of rights
    webhook      webhook_target_refusal          webhooks reach public addresses
    targets                                      only, unless allow-listed
    feedback     feedback_view,                  SPEC §4 answer views by role,
                 may_list_obligation             rule 3, 7: what an obligation list shows
    consulting   may_consult, may_see_consultation,  art. 16(3): only the coordinator
                 may_reply, may_reveal, ...      learns who asked
    administering  may_administer, may_act,      SPEC §3 rule 1, art. 6, 7, 8(2): who acts
                   may_leave                     for a body, who gives its notice
    reports      may_report, may_see_report,     art. 29: the reporter and the secretariat
                 may_handle_reports,             only; forward only
                 report_transition
    collections  may_use_collection, selects,    docs/taxii.md: a TAXII collection
                 may_write_collection            shows exactly what may_read allows
"""

from broker.tlp._decision import Decision, Reason
from broker.tlp._deriving import constraints_for_derived, may_derive, needs_consent, reclip
from broker.tlp._handling import Handling, handling_for
from broker.tlp._markings import (
    TLP_MARKING_DEFINITIONS,
    Marking,
    content_markings,
    stricter_markings,
)
from broker.tlp._reading import (
    WRITTEN_REASON_MIN,
    VictimView,
    is_written_reason,
    may_break_glass,
    may_read,
    victim_view,
    visible_length,
)
from broker.tlp._routing import (
    Routing,
    dropped_seen_by,
    may_see_member,
    receives,
    recipients_for,
)
from broker.tlp._scope import in_scope
from broker.tlp._stream import (
    ITEM_EVENTS,
    may_keep_stream,
    may_see_event,
    rights_changed,
    rights_until,
)
from broker.tlp._submitting import may_change_scope, may_consent, may_submit, may_withdraw
from broker.tlp._webhook_targets import (
    TargetAllowList,
    TargetRefusal,
    address_refusal,
    webhook_target_refusal,
)
from broker.tlp.administering import AdminAct, may_act, may_administer, may_leave
from broker.tlp.collections import (
    COLLECTIONS,
    CollectionAlias,
    CollectionSpec,
    collection_by_id,
    in_collection,
    may_use_collection,
    may_write_collection,
    selects,
)
from broker.tlp.consultations import (
    ConsultationRole,
    consultation_role,
    is_addressee,
    may_consult,
    may_reply,
    may_reveal,
    may_see_consultation,
    shows_consulter,
)
from broker.tlp.feedback_views import (
    MIN_CATEGORY_CELL,
    FeedbackView,
    feedback_view,
    may_list_obligation,
)
from broker.tlp.reports import may_handle_reports, may_report, may_see_report, report_transition

__all__ = [
    "COLLECTIONS",
    "ITEM_EVENTS",
    "MIN_CATEGORY_CELL",
    "TLP_MARKING_DEFINITIONS",
    "WRITTEN_REASON_MIN",
    "AdminAct",
    "CollectionAlias",
    "CollectionSpec",
    "ConsultationRole",
    "Decision",
    "FeedbackView",
    "Handling",
    "Marking",
    "Reason",
    "Routing",
    "TargetAllowList",
    "TargetRefusal",
    "VictimView",
    "address_refusal",
    "collection_by_id",
    "constraints_for_derived",
    "consultation_role",
    "content_markings",
    "dropped_seen_by",
    "feedback_view",
    "handling_for",
    "in_collection",
    "in_scope",
    "is_addressee",
    "is_written_reason",
    "may_act",
    "may_administer",
    "may_break_glass",
    "may_change_scope",
    "may_consent",
    "may_consult",
    "may_derive",
    "may_handle_reports",
    "may_keep_stream",
    "may_leave",
    "may_list_obligation",
    "may_read",
    "may_reply",
    "may_report",
    "may_reveal",
    "may_see_consultation",
    "may_see_event",
    "may_see_member",
    "may_see_report",
    "may_submit",
    "may_use_collection",
    "may_withdraw",
    "may_write_collection",
    "needs_consent",
    "receives",
    "recipients_for",
    "reclip",
    "report_transition",
    "rights_changed",
    "rights_until",
    "selects",
    "shows_consulter",
    "stricter_markings",
    "victim_view",
    "visible_length",
    "webhook_target_refusal",
]
