"""One merchant transition over many cases (the desk's and the changelist's bulk actions).

Each case goes through the same service as its case page, in that service's own transaction:
one refusal neither stops nor rolls back the others. The report says, per case, what happened,
or why the case was skipped in words that fit it: a case that is not in a state the transition
leaves is named by the states the FSM declares for it ("not awaiting merchant (now refunded)"),
not by a generic "changed"; any other refusal is the rule's own message.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import AfterSalesCase, State, automatic_transitions, declared_transitions, transition_labels
from . import cases as case_services

# The transitions a bulk action may take, and the service each calls (no page state: the
# report explains each refusal by the case as it is).
BULK_SERVICES: dict[str, Callable[..., AfterSalesCase]] = {
    "merchant_agree": lambda case, actor, fields: case_services.case_merchant_agree(case=case, actor=actor),
    "merchant_refuse": lambda case, actor, fields: case_services.case_merchant_refuse(
        case=case, actor=actor, reason=fields["reason"]
    ),
    "confirm_refund": lambda case, actor, fields: case_services.case_confirm_refund(case=case, actor=actor),
}


@dataclass(frozen=True)
class BulkOutcome:
    pk: int
    case: str  # the platform id
    done: bool
    message: str


def refusal_text(case: AfterSalesCase, name: str, error: ValidationError | None = None) -> str:
    """Why transition `name` was not taken on `case` (as it is now)."""
    sources = declared_transitions()[name]
    if case.state not in sources:
        states = "、".join(str(State(s).label) for s in sources)
        return _("not %(states)s (now %(state)s)") % {"states": states, "state": case.get_state_display()}
    return "; ".join(error.messages) if error is not None else ""


def _deadline_took_it(before: AfterSalesCase, after: AfterSalesCase, name: str) -> bool:
    # The service applies a due automatic transition before acting (SPEC §8's lazy rule): the
    # case left the transition's states because its deadline passed, not because of a person.
    return (
        before.due_at is not None
        and before.due_at <= timezone.now()
        and after.state not in declared_transitions()[name]
        and before.state in automatic_transitions()
        and after.state == automatic_transitions()[before.state].target
    )


def cases_bulk_act(
    *, cases: Iterable[AfterSalesCase], name: str, actor, fields: dict[str, Any] | None = None
) -> list[BulkOutcome]:
    """Take transition `name` on each of `cases` as `actor`, each on its own; the outcome of each."""
    act = BULK_SERVICES[name]
    label = transition_labels()[name]
    outcomes = []
    for case in cases:
        if case.state not in declared_transitions()[name]:
            # Nothing to lock or apply: the list already shows why (the service would say the same).
            outcomes.append(BulkOutcome(case.pk, case.platform_id, False, refusal_text(case, name)))
            continue
        try:
            done = act(case, actor, fields or {})
        except ValidationError as error:
            current = AfterSalesCase.objects.get(pk=case.pk)
            if _deadline_took_it(case, current, name):
                text = _("the deadline had passed: the system acted first (now %(state)s)") % {
                    "state": current.get_state_display()
                }
            else:
                text = refusal_text(current, name, error)
            outcomes.append(BulkOutcome(case.pk, case.platform_id, False, text))
        else:
            message = _("%(action)s: now %(state)s") % {"action": label, "state": done.get_state_display()}
            outcomes.append(BulkOutcome(case.pk, case.platform_id, True, message))
    return outcomes
