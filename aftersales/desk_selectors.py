"""Reads of the after-sales desk (售后工作台): which cases each counter and its list hold.

Each counter is a filter: `desk_filters` defines it once as a condition on the user's cases, and
both the counter (`desk_counts`) and the list (`desk_cases`) are that condition, so a counter
never says a number its list does not show. Counts are conditional aggregates in the database:
one query for the counters of open cases, one for the cases handled today.
"""

import datetime as dt
from dataclasses import dataclass

from django.db.models import BooleanField, Count, Exists, F, Func, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from pddadmin.paging import IdPagedQuerySet
from pddadmin.shops.selectors import is_platform_staff, shop_roles, visible_to

from .models import Actor, AfterSalesCase, CaseTransition, ReturnAddress, State

URGENT_WITHIN = dt.timedelta(hours=6)  # 即将超时: under this much of the merchant's deadline left
# States whose deadline is the merchant's: silence there is an automatic refund (SPEC §2.3).
MERCHANT_WAITING = (State.PENDING_MERCHANT, State.RETURN_SHIPPED)


@dataclass(frozen=True)
class DeskFilter:
    key: str
    label: Promise
    today: bool = False  # counted from the day's log rows, not from the open cases


FILTERS: tuple[DeskFilter, ...] = (
    DeskFilter("pending", _("To handle")),
    DeskFilter("urgent", _("Due soon")),
    DeskFilter("awaiting_return", _("Awaiting buyer's return")),
    DeskFilter("return_shipped", _("Returned, to confirm")),
    DeskFilter("intervention", _("Under platform intervention")),
    DeskFilter("today", _("Handled today"), today=True),
)
DEFAULT_FILTER = "pending"


def today_bounds(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The calendar day of `now` in Asia/Shanghai (SPEC: days are Shanghai days), as UTC moments."""
    start = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + dt.timedelta(days=1)


def _merchant_rows_today(now: dt.datetime) -> QuerySet[CaseTransition]:
    start, end = today_bounds(now)
    return CaseTransition.objects.filter(actor_kind=Actor.MERCHANT, at__gte=start, at__lt=end)


class _AmongIds(Func):
    """`column IN (subquery)`; on PostgreSQL `column = ANY(ARRAY(subquery))`, the same rows.

    The array form makes PostgreSQL read the subquery's ids first and fetch those rows by the
    index on `column`; as IN it would rather read every case of a big shop and match them against
    the ids (150,000 index entries for 800 cases handled today, bench/pages.py)."""

    conditional = True
    output_field = BooleanField()

    def as_sql(self, compiler, connection, **extra):
        column, ids = (compiler.compile(e) for e in self.get_source_expressions())
        return f"{column[0]} IN {ids[0]}", (*column[1], *ids[1])

    def as_postgresql(self, compiler, connection, **extra):
        column, ids = (compiler.compile(e) for e in self.get_source_expressions())
        return f"{column[0]} = ANY(ARRAY{ids[0]})", (*column[1], *ids[1])


def _handled_today(now: dt.datetime) -> Q:
    # The cases named by the day's merchant rows (the (actor_kind, at, case) index), not each case
    # asked whether it has one: a shop of 150,000 cases took 150,000 probes (bench/pages.py).
    return Q(_AmongIds(F("pk"), Subquery(_merchant_rows_today(now).order_by().values("case_id"))))


def desk_filters(now: dt.datetime) -> dict[str, Q]:
    """Filter key → the condition on a case. A case past its deadline is left out of the open
    filters: its automatic transition is due (the job applies it within a minute, any action
    applies it first), so nothing is left for the merchant to do on it."""
    live = Q(due_at__isnull=True) | Q(due_at__gt=now)
    return {
        "pending": Q(state=State.PENDING_MERCHANT) & live,
        "urgent": Q(state__in=MERCHANT_WAITING, due_at__gt=now, due_at__lte=now + URGENT_WITHIN),
        "awaiting_return": Q(state=State.AWAITING_RETURN) & live,
        "return_shipped": Q(state=State.RETURN_SHIPPED) & live,
        "intervention": Q(state=State.UNDER_INTERVENTION),
        "today": _handled_today(now),
    }


def desk_scope(*, user) -> QuerySet[AfterSalesCase]:
    """The cases the user may see: their shops' (platform staff: every shop's).

    visible_to says which; the same shops are also given as values (shop_roles, read once per
    request), which changes no row: with them PostgreSQL knows the shop, so a big shop's list is
    read in the order of the (shop, state, due_at, changed_at, id) index and stops after a page,
    where the subquery alone made it join and sort all the shop's cases of the filter."""
    return _scoped(AfterSalesCase.objects.all(), user=user)


def _scoped(cases: QuerySet[AfterSalesCase], *, user) -> QuerySet[AfterSalesCase]:
    scope = visible_to(cases, user=user)
    return scope if is_platform_staff(user) else scope.filter(shop_id__in=list(shop_roles(user)))


def desk_counts(*, user, now: dt.datetime) -> dict[str, int]:
    """Each filter's number of cases: one aggregate over the open states, one for today's."""
    conditions = desk_filters(now)
    open_keys = [f.key for f in FILTERS if not f.today]
    open_states = [State.PENDING_MERCHANT, State.AWAITING_RETURN, State.RETURN_SHIPPED, State.UNDER_INTERVENTION]
    counts = (
        desk_scope(user=user)
        .filter(state__in=open_states)
        .aggregate(**{key: Count("pk", filter=conditions[key]) for key in open_keys})
    )
    for f in FILTERS:
        if f.today:
            counts[f.key] = desk_scope(user=user).filter(conditions[f.key]).count()
    return counts


def desk_cases(*, user, key: str, now: dt.datetime) -> QuerySet[AfterSalesCase]:
    """The list of filter `key`, the least time left first (cases without a deadline last), with
    what each row shows read in the same query: goods, shop, and whether the shop has a default
    return address (a return is then agreed with it in one click). A page after the first is read
    by its ids first (pddadmin.paging)."""
    default_address = ReturnAddress.objects.filter(shop_id=OuterRef("shop_id"), is_default=True)
    return (
        _scoped(IdPagedQuerySet(AfterSalesCase), user=user)
        .filter(desk_filters(now)[key])
        .select_related("order__goods", "shop")
        .annotate(has_default_address=Exists(default_address))
        .order_by(F("due_at").asc(nulls_last=True), "changed_at", "pk")
    )


def several_shops(*, user) -> bool:
    """Whether the user sees more than one shop's cases (then the desk shows a shop column)."""
    return is_platform_staff(user) or len(shop_roles(user)) > 1
