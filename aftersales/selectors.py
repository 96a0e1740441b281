"""After-sales reads."""

from django.db.models import BooleanField, Exists, ExpressionWrapper, F, OuterRef, Q, QuerySet
from django.utils.translation import gettext_lazy

from pddadmin.shops.models import Shop

from .models import AfterSalesCase, Refund, ReturnAddress, State, automatic_transitions


def shops_with_info_missing(queryset: QuerySet[Shop] | None = None) -> QuerySet[Shop]:
    """Annotate `info_missing`: no hotline or no return address (售后信息缺失)."""
    queryset = queryset if queryset is not None else Shop.objects.all()
    has_address = Exists(ReturnAddress.objects.filter(shop=OuterRef("pk")))
    return queryset.annotate(info_missing=ExpressionWrapper(Q(hotline="") | ~has_address, output_field=BooleanField()))


def shop_info_missing(*, shop: Shop) -> bool:
    return not shop.hotline or not ReturnAddress.objects.filter(shop=shop).exists()


def claimed_by_other(case: AfterSalesCase, user) -> bool:
    """SPEC §4, one reviewer per case: a case claimed by a reviewer is ruled by that reviewer only.

    `user` None is the platform feed's `case.ruled`, which names no reviewer: a claimed case is
    refused to it too (decided here), so a reviewer's claim is never overtaken unseen. `case_rule`
    enforces this under the row lock; the pages use it to offer the ruling only where it can succeed.
    """
    return case.claimed_by_id is not None and case.claimed_by_id != getattr(user, "pk", None)


def refunded_by(order: OuterRef | F, moment: OuterRef | F) -> Q:
    """The order was refunded at or before `moment` (SPEC §7.3), counting an automatic refund that
    falls due by then whether or not it has been applied yet: a case still waiting in a state
    whose automatic transition refunds it, with its deadline at or before `moment`. So the answer
    never depends on whether `process_deadlines` has run."""
    refunding = [source for source, t in automatic_transitions().items() if t.target == State.REFUNDED]
    return Q(Exists(Refund.objects.filter(order=order, refunded_at__lte=moment))) | Q(
        Exists(AfterSalesCase.objects.filter(order=order, state__in=refunding, due_at__lte=moment))
    )


# Whose turn a waiting state is and what its automatic transition does at the deadline (SPEC §2.3):
# after a refusal the deadline is the buyer's (escalate or resubmit, or the case closes), not the
# merchant's, and the case page says so instead of a bare "deadline".
DEADLINE_MEANINGS = {
    State.PENDING_MERCHANT: gettext_lazy("Merchant's deadline to agree or refuse (then refunded automatically)"),
    State.RETURN_SHIPPED: gettext_lazy("Merchant's deadline to confirm the return (then refunded automatically)"),
    State.MERCHANT_REFUSED: gettext_lazy("Buyer's deadline to escalate or resubmit (then the case closes)"),
    State.AWAITING_RETURN: gettext_lazy("Buyer's deadline to ship the return (then the case closes)"),
    State.RETURN_REFUSED: gettext_lazy("Buyer's deadline to escalate (then the case closes)"),
}


def deadline_meaning(case: AfterSalesCase) -> str:
    """The label of `case.due_at` on its page: whose turn it is and what happens at the deadline
    (the declared automatic transition of its state); "" when no automatic transition waits."""
    if case.due_at is None or case.state not in automatic_transitions():
        return ""
    return str(DEADLINE_MEANINGS.get(case.state, gettext_lazy("deadline")))
