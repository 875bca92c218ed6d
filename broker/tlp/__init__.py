"""The access policy of the broker: every decision on who receives, reads, shares.

Pure: no IO, no clock, no framework. The services load snapshots
(`broker.domain`), ask here, and act on the answer; every answer is a
`Decision` whose reasons the services audit (SPEC §3, rule 10).

    scope        in_scope                        charter art. 17(1), 19(2)
    routing      receives, recipients_for        SPEC §3 rules 1-7
    reading      may_read, may_break_glass,      art. 18(4), 14(3), TLP 2.0
                 victim_view                     charter annex
    submitting   may_submit, may_change_scope,   art. 17(1), 18(3), SPEC §2
                 may_withdraw, may_consent
    deriving     may_derive,                     art. 17(3), TLP 2.0 RED
                 constraints_for_derived, needs_consent
    handling     handling_for                    TLP 2.0, art. 19(4), 24(4)
    stream       may_see_event                   docs/api.md live delivery = the inbox
                 rights_changed, rights_until,   SPEC §3 rules 3, 7: open connections
                 may_keep_stream                 follow every change of rights
    webhook      webhook_target_refusal          webhooks reach public addresses
    targets                                      only, unless allow-listed
    feedback     feedback_view                   SPEC §4 answer views by role
    consulting   may_consult, may_see_consultation,  art. 16(3): only the coordinator
                 may_reply, may_reveal, ...      learns who asked
"""

from broker.tlp._decision import Decision, Reason
from broker.tlp._deriving import constraints_for_derived, may_derive, needs_consent
from broker.tlp._handling import Handling, handling_for
from broker.tlp._reading import VictimView, may_break_glass, may_read, victim_view
from broker.tlp._routing import Routing, receives, recipients_for
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
from broker.tlp.feedback_views import FeedbackView, feedback_view

__all__ = [
    "ITEM_EVENTS",
    "ConsultationRole",
    "Decision",
    "FeedbackView",
    "Handling",
    "Reason",
    "Routing",
    "TargetAllowList",
    "TargetRefusal",
    "VictimView",
    "address_refusal",
    "constraints_for_derived",
    "consultation_role",
    "feedback_view",
    "handling_for",
    "in_scope",
    "is_addressee",
    "may_break_glass",
    "may_change_scope",
    "may_consent",
    "may_consult",
    "may_derive",
    "may_keep_stream",
    "may_read",
    "may_reply",
    "may_reveal",
    "may_see_consultation",
    "may_see_event",
    "may_submit",
    "may_withdraw",
    "needs_consent",
    "receives",
    "recipients_for",
    "rights_changed",
    "rights_until",
    "shows_consulter",
    "victim_view",
    "webhook_target_refusal",
]
