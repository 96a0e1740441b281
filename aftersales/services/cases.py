"""After-sales case writes (SPEC §2). The admin workbench, the review queue, the platform feed
and the deadline job all come through here; none of them changes a case any other way.

Every service is atomic, locks the case row, applies the case's due automatic transition first
(the lazy deadline rule of SPEC §8: nothing acts on a case as if its deadline had not passed),
checks `expected_state` (what the user saw) and then calls the FSM transition on the model.
`record_transitions` writes the log rows and refunds, for one case or for a whole batch.
"""

import datetime as dt
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from pddadmin import fsm
from pddadmin.shops.models import Order
from pddadmin.timefmt import shown

from ..errors import CaseChanged, CaseClaimError, CasePermissionDenied, CaseRuleError
from ..models import (
    OPEN_STATES,
    REASON_CLASS,
    AfterSalesCase,
    CaseTransition,
    Kind,
    Reason,
    Refund,
    ReturnAddress,
    State,
    automatic_transitions,
    declared_transitions,
)
from ..selectors import claimed_by_other

__all__ = [
    "CaseChanged",
    "CaseClaimError",
    "CaseRuleError",
    "case_cancel",
    "case_confirm_refund",
    "case_escalate",
    "case_merchant_agree",
    "case_merchant_refuse",
    "case_open",
    "case_refuse_return",
    "case_reship",
    "case_resubmit",
    "case_rule",
    "case_ship_return",
    "case_shorten_deadline",
    "record_transitions",
]


# --- the one writer of log rows and refunds -------------------------------------------------


def _columns(model, *names: str) -> str:
    return ", ".join(connection.ops.quote_name(model._meta.get_field(n).column) for n in names)


def record_transitions(
    *,
    case_ids: Sequence[int],
    transition: str,
    from_state: str,
    to_state: str,
    actor_kind: str,
    actor_id: int | None = None,
    note: str = "",
) -> None:
    """Log one transition of each case in `case_ids`, already saved in `to_state`, and create
    the refund of each case that entered `refunded`.

    INSERT … SELECT from the case rows: the time of each row is the case's `changed_at`, which
    every transition sets to its own moment (the deadline, for an automatic one), and a refund
    copies the amount, reason and liability in force, so one statement serves one case or two
    thousand. The refund's unique case column makes a second refund impossible, not just unlikely.
    """
    if not case_ids:
        return
    qn = connection.ops.quote_name
    cases = qn(AfterSalesCase._meta.db_table)
    ids = ", ".join(["%s"] * len(case_ids))
    recorded_at = connection.ops.adapt_datetimefield_value(timezone.now())
    log_columns = _columns(
        CaseTransition,
        "case",
        "transition",
        "from_state",
        "to_state",
        "actor_kind",
        "actor",
        "at",
        "note",
        "recorded_at",
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {qn(CaseTransition._meta.db_table)} ({log_columns}) "
            f"SELECT id, %s, %s, %s, %s, %s, changed_at, %s, %s FROM {cases} WHERE id IN ({ids})",
            [transition, from_state, str(to_state), actor_kind, actor_id, note, recorded_at, *case_ids],
        )
        if to_state != State.REFUNDED:
            return
        reason_class = "CASE c.reason " + " ".join(["WHEN %s THEN %s"] * len(REASON_CLASS)) + " END"
        class_params = [str(v) for pair in REASON_CLASS.items() for v in pair]
        refund_columns = _columns(
            Refund,
            "case",
            "order",
            "shop",
            "goods",
            "amount",
            "reason",
            "reason_class",
            "intervened",
            "liable",
            "refunded_at",
        )
        orders = qn(Order._meta.db_table)
        cursor.execute(
            f"INSERT INTO {qn(Refund._meta.db_table)} ({refund_columns}) "
            f"SELECT c.id, c.order_id, c.shop_id, o.goods_id, c.amount, c.reason, {reason_class}, "
            f"c.intervened_at IS NOT NULL, c.liable, c.changed_at "
            f"FROM {cases} c JOIN {orders} o ON o.id = c.order_id WHERE c.id IN ({ids})",
            [*class_params, *case_ids],
        )


# --- taking one transition on one case ------------------------------------------------------


def _transition_of(case: AfterSalesCase, name: str):
    """The declared transition `name` from the case's current state, or a clear refusal."""
    by_source = declared_transitions()[name]
    if case.state not in by_source:
        sources = ", ".join(sorted(str(s) for s in by_source)) or "-"
        raise CaseRuleError(
            _("case %(case)s is %(state)s: %(transition)s is only possible from %(sources)s")
            % {"case": case.platform_id, "state": case.state or "new", "transition": name, "sources": sources}
        )
    return by_source[case.state]


# A check of the locked case beyond the FSM's own (the claim on a ruling); raises to refuse.
Check = Callable[[AfterSalesCase], None]


def _take(
    case: AfterSalesCase, name: str, *, actor=None, log_note: str = "", check: Check | None = None, **kwargs: Any
) -> AfterSalesCase:
    spec = _transition_of(case, name)
    for condition in spec.conditions:
        if not condition(case):
            raise CaseRuleError(condition.explain(case))
    if actor is not None and not spec.has_perm(case, actor):
        raise CasePermissionDenied(
            _("%(user)s may not %(transition)s case %(case)s")
            % {"user": actor, "transition": name, "case": case.platform_id}
        )
    if check is not None:
        check(case)
    source = case.state
    with fsm.conditions_met(case, spec):
        getattr(case, name)(**kwargs)
    case.save()
    record_transitions(
        case_ids=[case.pk],
        transition=name,
        from_state=source,
        to_state=case.state,
        actor_kind=spec.custom["actor"],
        actor_id=getattr(actor, "pk", None),
        note=log_note,
    )
    return case


# A case read under its row lock with what the rules read; `of` locks the case alone.
CASES_LOCKED = AfterSalesCase.objects.select_for_update(of=("self",)).select_related("order", "order__goods", "shop")


def case_lock(case: AfterSalesCase) -> AfterSalesCase:
    """Lock the case's row for the caller's transaction and read it with what the rules read."""
    return CASES_LOCKED.get(pk=case.pk)


def apply_due_locked(case: AfterSalesCase, now: dt.datetime) -> bool:
    """Apply the case's automatic transition if it fell due at or before `now` (row locked by
    the caller). Every automatic transition ends the case, so there is at most one."""
    spec = automatic_transitions().get(case.state)
    if spec is None or case.due_at is None or case.due_at > now:
        return False
    _take(case, spec.name)
    return True


def _act(
    case: AfterSalesCase,
    name: str,
    *,
    at: dt.datetime | None,
    actor=None,
    expected_state: str | None = None,
    expected_changed_at: dt.datetime | None = None,
    log_note: str = "",
    check: Check | None = None,
    locked: bool = False,
    **kwargs: Any,
) -> AfterSalesCase:
    """`locked`: the caller read the case from CASES_LOCKED in this transaction (the feed, which
    judges the line's time under the lock first), so it is not read again."""
    at = at or timezone.now()
    with transaction.atomic():
        if not locked:
            case = case_lock(case)
        if not apply_due_locked(case, at):
            _check_current(case, at=at, expected_state=expected_state, expected_changed_at=expected_changed_at)
            return _take(case, name, actor=actor, log_note=log_note, check=check, at=at, **kwargs)
    # The case's deadline passed before this action: its automatic transition is committed and
    # the action, meeting a finished case, is refused. (A feed line runs inside its own
    # savepoint, so a refused line rolls the automatic transition back with it, SPEC §8.)
    _check_current(case, at=at, expected_state=expected_state)
    _transition_of(case, name)
    raise CaseChanged()  # pragma: no cover - every automatic transition ends the case


def _check_current(
    case: AfterSalesCase,
    *,
    at: dt.datetime,
    expected_state: str | None,
    expected_changed_at: dt.datetime | None = None,
) -> None:
    # The state alone misses a change that keeps it (a shortened deadline): the moment of the
    # last change, where the caller knows it, is checked too.
    moved = expected_changed_at is not None and case.changed_at != expected_changed_at
    if moved or (expected_state is not None and case.state != expected_state):
        raise CaseChanged(
            _("case %(case)s changed (now %(state)s), please reload")
            % {"case": case.platform_id, "state": case.get_state_display()}
        )
    if at < case.changed_at:
        raise CaseRuleError(
            _("%(at)s is older than the last change of case %(case)s (%(last)s)")
            % {"at": shown(at, seconds=True), "case": case.platform_id, "last": shown(case.changed_at, seconds=True)}
        )


# --- buyer (platform feed) ------------------------------------------------------------------


def order_lock(order: Order) -> Order:
    """Lock the order's row for the caller's transaction and read it with its goods and shop."""
    return ORDERS_LOCKED.get(pk=order.pk)


# An order read under its row lock with what the opening of a case reads of it; `of` locks the
# order alone, not its shop and goods.
ORDERS_LOCKED = Order.objects.select_for_update(of=("self",)).select_related("goods", "shop")


def case_open(
    *,
    platform_id: str,
    order: Order,
    kind: str,
    reason: str,
    amount: Decimal,
    at: dt.datetime,
    statement: str = "",
    order_locked: bool = False,
) -> AfterSalesCase:
    """`order_locked`: the caller already holds the order's row lock in this transaction and
    read the order under it with its goods and shop (the feed), so it is not read again."""
    if kind not in Kind.values:
        raise CaseRuleError(_("unknown case kind %(kind)s") % {"kind": kind})
    if reason not in Reason.values:
        raise CaseRuleError(_("unknown reason %(reason)s") % {"reason": reason})
    with transaction.atomic():
        # The order lock serialises openings on one order; the partial unique index backs it up.
        if not order_locked:
            order = order_lock(order)
        if AfterSalesCase.objects.filter(platform_id=platform_id).exists():
            raise CaseRuleError(_("case %(case)s already exists") % {"case": platform_id})
        # Lazy deadline rule for the order's open cases: one whose buyer deadline passed is
        # closed first, and the order may take a new case.
        for existing in AfterSalesCase.objects.filter(order=order, state__in=OPEN_STATES, due_at__lte=at):
            apply_due_locked(case_lock(existing), at)
        case = AfterSalesCase(
            platform_id=platform_id,
            order=order,
            shop_id=order.shop_id,
            kind=kind,
            reason=reason,
            amount=amount,
            state="",
            opened_at=at,
            submitted_at=at,
            changed_at=at,
            buyer_statement=statement or "",
        )
        return _take(case, "open", log_note=statement or "")


def case_resubmit(
    *,
    case: AfterSalesCase,
    at: dt.datetime,
    amount: Decimal | None = None,
    reason: str | None = None,
    locked: bool = False,
) -> AfterSalesCase:
    return _act(case, "resubmit", at=at, amount=amount, reason=reason, locked=locked)


def case_cancel(*, case: AfterSalesCase, at: dt.datetime, locked: bool = False) -> AfterSalesCase:
    return _act(case, "cancel", at=at, locked=locked)


def case_escalate(*, case: AfterSalesCase, at: dt.datetime, locked: bool = False) -> AfterSalesCase:
    return _act(case, "escalate", at=at, locked=locked)


def case_ship_return(*, case: AfterSalesCase, at: dt.datetime, tracking: str, locked: bool = False) -> AfterSalesCase:
    return _act(case, "ship_return", at=at, tracking=tracking, log_note=(tracking or "").strip(), locked=locked)


# --- merchant (workbench, ERP feed) ---------------------------------------------------------


def case_merchant_agree(
    *,
    case: AfterSalesCase,
    actor=None,
    at: dt.datetime | None = None,
    address: ReturnAddress | None = None,
    expected_state: str | None = None,
    locked: bool = False,
) -> AfterSalesCase:
    return _act(
        case, "merchant_agree", at=at, actor=actor, expected_state=expected_state, address=address, locked=locked
    )


def case_merchant_refuse(
    *,
    case: AfterSalesCase,
    reason: str,
    actor=None,
    at: dt.datetime | None = None,
    expected_state: str | None = None,
    locked: bool = False,
) -> AfterSalesCase:
    return _act(
        case,
        "merchant_refuse",
        at=at,
        actor=actor,
        expected_state=expected_state,
        reason=reason,
        log_note=reason or "",
        locked=locked,
    )


def case_confirm_refund(
    *,
    case: AfterSalesCase,
    actor=None,
    at: dt.datetime | None = None,
    expected_state: str | None = None,
    locked: bool = False,
) -> AfterSalesCase:
    return _act(case, "confirm_refund", at=at, actor=actor, expected_state=expected_state, locked=locked)


def case_refuse_return(
    *,
    case: AfterSalesCase,
    reason: str,
    actor=None,
    at: dt.datetime | None = None,
    expected_state: str | None = None,
    locked: bool = False,
) -> AfterSalesCase:
    return _act(
        case,
        "refuse_return",
        at=at,
        actor=actor,
        expected_state=expected_state,
        reason=reason,
        log_note=reason or "",
        locked=locked,
    )


def case_reship(
    *,
    case: AfterSalesCase,
    tracking: str,
    actor=None,
    at: dt.datetime | None = None,
    expected_state: str | None = None,
    locked: bool = False,
) -> AfterSalesCase:
    """SPEC §2.3 `reship`: the merchant sends an exchange's replacement; the case ends exchanged,
    with no refund. The tracking number is kept on the case and in the log row's note."""
    return _act(
        case,
        "reship",
        at=at,
        actor=actor,
        expected_state=expected_state,
        tracking=tracking,
        log_note=(tracking or "").strip(),
        locked=locked,
    )


# --- reviewer (review queue, platform tool) -------------------------------------------------


def case_rule(
    *,
    case: AfterSalesCase,
    liable: str,
    note: str,
    actor=None,
    at: dt.datetime | None = None,
    expected_state: str | None = None,
    locked: bool = False,
) -> AfterSalesCase:
    """SPEC §2.3 `rule`, from the admin's case page, the review queue and the feed alike.

    A claimed case is ruled by its claimant only (`claimed_by_other`), checked under the row lock so
    no page, queue or feed line can rule over another reviewer's claim. `actor` None is the feed.
    """

    def claimant_only(locked: AfterSalesCase) -> None:
        if claimed_by_other(locked, actor):
            raise CaseClaimError(
                _("case %(case)s is claimed by %(user)s: only that reviewer may rule it")
                % {"case": locked.platform_id, "user": locked.claimed_by}
            )

    return _act(
        case,
        "rule",
        at=at,
        actor=actor,
        expected_state=expected_state,
        liable=liable,
        note=note,
        log_note=note or "",
        check=claimant_only,
        locked=locked,
    )


def case_shorten_deadline(
    *,
    case: AfterSalesCase,
    due_at: dt.datetime,
    actor=None,
    at: dt.datetime | None = None,
    expected_changed_at: dt.datetime | None = None,
) -> AfterSalesCase:
    """SPEC §2.2: a reviewer brings the merchant's deadline forward, never below 24 h from now.
    Logged as a `shorten_deadline` row whose from and to state are both pending_merchant."""
    return _act(
        case,
        "shorten_deadline",
        at=at,
        actor=actor,
        due_at=due_at,
        expected_changed_at=expected_changed_at,
        log_note=due_at.isoformat(),
    )
