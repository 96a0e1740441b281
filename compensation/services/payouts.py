"""Issue ¥100 per order of every upheld violation (SPEC §6), exactly once, crash-safe.

Work is claimed one payout per database transaction:
1. lock the first shop (by its earliest pending payout) that no other worker holds, with
   SELECT … FOR UPDATE SKIP LOCKED, so two workers spread over shops instead of queueing;
2. under that lock, take the shop's first pending (violation, order) in ruling order, then
   listing order: a shop's deposit is consumed strictly in the order the SPEC gives;
3. make the ¥100 charge (`charges.charge_issue`: deposit, then balance, then arrears; the ledger
   transaction and the buyer's coupon), and commit.
A crash loses only the transaction in flight. The unique constraint on (violation, order)
is the last line of defence if anything above were ever wrong.
"""

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.utils import timezone

from pddadmin.shops.models import Shop

from ..models import PAYOUT_AMOUNT, Charge, ChargeKind, ViolationOrder, ViolationState
from . import charges, ledger

log = logging.getLogger(__name__)

PAYOUT_ORDER = ("violation__ruled_at", "violation__ruled_seq", "position")


def pending_lines(now: dt.datetime) -> QuerySet[ViolationOrder]:
    """(violation, order) pairs of violations upheld at or before `now` that have no payout yet.

    A run as of `now` cannot pay a ruling made after it: its payout would be issued before the
    breach was ruled.
    """
    return ViolationOrder.objects.filter(violation__state=ViolationState.UPHELD, violation__ruled_at__lte=now).filter(
        ~Exists(Charge.objects.filter(line=OuterRef("pk")))
    )


@dataclass
class PayoutReport:
    paid: int = 0
    amount: Decimal = ledger.ZERO
    from_deposit: Decimal = ledger.ZERO
    from_balance: Decimal = ledger.ZERO
    arrears: Decimal = ledger.ZERO
    conflicts: int = 0
    payouts: list[int] = field(default_factory=list)
    automatic: "charges.ChargeReport | None" = None

    def add(self, payout: Charge) -> None:
        self.paid += 1
        self.amount += payout.amount
        self.from_deposit += payout.from_deposit
        self.from_balance += payout.from_balance
        self.arrears += payout.arrears
        self.payouts.append(payout.pk)


def _claim_statement(now: dt.datetime) -> tuple[str, tuple]:
    """SQL that locks a shop no other worker holds and returns (shop id, its first pending line).

    Built once per run: it is the same statement every time, and compiling it costs more CPU
    than the rest of a payout.
    """
    pending = pending_lines(now)
    first_due = pending.filter(violation__shop_id=OuterRef("pk")).order_by(*PAYOUT_ORDER)
    qs = (
        Shop.objects.filter(pk__in=pending.values("violation__shop_id"))
        .annotate(
            first_line=Subquery(first_due.values("pk")[:1]),
            first_ruled=Subquery(first_due.values("violation__ruled_at")[:1]),
            first_ruled_seq=Subquery(first_due.values("violation__ruled_seq")[:1]),
        )
        # One worker alone pays in ruling order across shops too; with several, each shop
        # still pays strictly in order, which is what decides where its money comes from.
        .order_by("first_ruled", "first_ruled_seq")
        .select_for_update(skip_locked=True)
        .values_list("pk", "first_line")
    )[:1]
    with transaction.atomic():  # Django compiles FOR UPDATE only inside a transaction
        return qs.query.sql_with_params()


def _claim(statement: tuple[str, tuple]) -> tuple[int, int] | None:
    with connection.cursor() as cursor:
        cursor.execute(*statement)
        return cursor.fetchone()


def _pay(line: ViolationOrder, *, now: dt.datetime) -> Charge:
    books = ledger.lock_books(shop_id=line.violation.shop_id, shop_locked=True)
    kind = ChargeKind.WARRANTY
    ids = {"violation": line.violation.platform_id, "order": line.order.platform_id}
    return charges.charge_issue(
        books,
        charges.DueCharge(
            kind=kind,
            shop_id=line.violation.shop_id,
            at=now,
            key=line.order.platform_id,
            cause=f"warranty:{ids['violation']}:{ids['order']}",
            buyer=line.order.buyer,
            amount=PAYOUT_AMOUNT,
            order_id=line.order_id,
            violation_id=line.violation_id,
            line_id=line.pk,
            memo=charges.memo_for(kind, **ids),
        ),
    )


_NOTHING, _RETRY = object(), object()


def _issue_next(now: dt.datetime, statement: tuple[str, tuple]) -> Charge | object:
    with transaction.atomic():
        # The platform's coupon account first, holding nothing: an importer's chunk may hold it
        # while it waits for the shop this payout would claim (the charges' lock order).
        charges.lock_receivers(nowait=False)
        claimed = _claim(statement)
        if claimed is None:
            return _NOTHING
        # Read again under the shop lock: the claim's snapshot may predate another worker's commit.
        line = pending_lines(now).filter(pk=claimed[1]).select_related("violation", "order").first()
        if line is None:
            return _RETRY
        return _pay(line, now=now)


def payouts_issue(*, now: dt.datetime | None = None, on_progress: Callable[[int], None] | None = None) -> PayoutReport:
    """Pay every pending (violation, order); safe to re-run and to run in parallel.

    `on_progress(1)` is called after each payout's transaction has committed.
    """
    now = now or timezone.now()
    report = PayoutReport()
    # SPEC §9: automatic charges due by `now` come first, in every shop (each payout also applies
    # its own shop's, under the shop's lock, in case one fell due meanwhile).
    report.automatic = charges.apply_due(now=now)
    statement = _claim_statement(now)
    while True:
        try:
            outcome = _issue_next(now, statement)
        except IntegrityError as exc:
            # Only reachable if a payout for the pair exists after all: nothing was written.
            log.warning("payout conflict, skipped: %s", exc)
            report.conflicts += 1
            if report.conflicts > 100:
                raise
            continue
        if outcome is _NOTHING:
            break
        if outcome is _RETRY:
            continue
        assert isinstance(outcome, Charge)
        report.add(outcome)
        if on_progress:
            on_progress(1)
    return report
