"""What each action on an after-sales case would do to its goods' figures (issue #17.3).

The case page (aftersales) shows, for the action buttons it offers now and for doing nothing, the
goods' quality refund figures (a case of reason class quality) or logistics anomaly figures (class
logistics) before and after, against the category's, and whether a line of SPEC §5 / §5.1 is
crossed. A selector: it reads, and writes nothing.

Nothing here re-implements a figure:
- the counts are the goods' latest daily snapshot (its own and its category's, as stored);
- whether the case's order counts already is asked of the figure's definition (metrics.figures)
  over that snapshot's window: an order counts once, so its refund then adds nothing;
- the lines are the snapshot's flag rule (metrics.services.over_category and its twins);
- where an action leads is read from the case's @transition declarations, and doing nothing from
  its automatic transition, as the deadline job and the forecast read them.
What-if, as the forecast holds it (SPEC §5.2): the refund is added to the snapshot's figures,
everything else is held, so a refund in the goods' category counts in the category's figures too.
"""

import datetime as dt
import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import reduce
from operator import or_

from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_fsm import GET_STATE

from aftersales.case_panels import Action
from aftersales.models import (
    REASON_CLASS,
    TERMINAL_STATES,
    AfterSalesCase,
    ReasonClass,
    Refund,
    State,
    automatic_transitions,
    declared_transitions,
)
from pddadmin.shops.models import XINJIANG, Order

from .figures import LOGISTICS_ANOMALY, QUALITY_REFUND, AnyOf, Figure
from .models import Flag, GoodsDaySnapshot, ShopDaySnapshot, logistics_rate, ratio
from .services import LOGISTICS_TIMES, logistics_over_category, quality_flag
from .windows import window_for

WAITING = "waiting"  # the panel's row for doing nothing (不处理)
QUALITY_TIMES = (3, 5)


class Effect:
    """What an action (or doing nothing) does to the case's refund, as far as the figures see it."""

    REFUNDED = "refunded"  # refunded now
    REFUNDED_AT_DEADLINE = "refunded_at_deadline"  # doing nothing: refunded by itself at the deadline
    AFTER_RETURN = "after_return"  # refunded once the buyer's parcel is back (confirmed, or its deadline)
    IF_RULED = "if_ruled"  # refunded if the ruling holds the merchant liable
    UNLESS_ESCALATED = "unless_escalated"  # no refund, unless the buyer escalates and wins
    DEADLINE_MOVED = "deadline_moved"  # the state stays, its automatic transition comes sooner
    CLOSES_AT_DEADLINE = "closes_at_deadline"  # doing nothing: closed at the deadline, no refund
    STAYS_OPEN = "stays_open"  # doing nothing: no deadline (under intervention): the ruling decides
    NO_REFUND = "no_refund"  # ends with no refund (closed, exchanged)

    LABELS = {
        REFUNDED: _("refunded now"),
        REFUNDED_AT_DEADLINE: _("refunded automatically at the deadline"),
        AFTER_RETURN: _("refunded once the return is back (you confirm, or its deadline passes)"),
        IF_RULED: _("refunded if the ruling holds the merchant liable"),
        UNLESS_ESCALATED: _("not refunded, unless the buyer escalates and the platform rules against you"),
        DEADLINE_MOVED: _("the deadline comes sooner; then as doing nothing"),
        CLOSES_AT_DEADLINE: _("closed at the deadline, not refunded"),
        STAYS_OPEN: _("stays open until the platform rules"),
        NO_REFUND: _("ends without a refund"),
    }
    # The effects after which the refund counts (those besides REFUNDED / REFUNDED_AT_DEADLINE
    # only on a condition the row's label says).
    REFUNDING = frozenset({REFUNDED, REFUNDED_AT_DEADLINE, AFTER_RETURN, IF_RULED})


# Where a case can go next, by the state an action leaves it in (SPEC §2.3).
_EFFECT_OF_STATE = {
    State.REFUNDED: Effect.REFUNDED,
    State.CLOSED: Effect.NO_REFUND,
    State.EXCHANGED: Effect.NO_REFUND,
    State.AWAITING_RETURN: Effect.AFTER_RETURN,
    State.RETURN_SHIPPED: Effect.AFTER_RETURN,
    State.MERCHANT_REFUSED: Effect.UNLESS_ESCALATED,
    State.RETURN_REFUSED: Effect.UNLESS_ESCALATED,
    State.UNDER_INTERVENTION: Effect.IF_RULED,
}


@dataclass(frozen=True)
class Figures:
    """A goods' figure of one kind and its category's, as a snapshot holds them."""

    kind: str  # ReasonClass.QUALITY or ReasonClass.LOGISTICS
    orders: int  # the goods' quality refund orders / logistics anomaly orders of the window
    grouped: int
    category_orders: int
    category_grouped: int
    category_members: int  # the category's goods with grouped orders

    def _numbers(self) -> dict[str, int]:
        return {
            "orders": self.orders,
            "grouped": self.grouped,
            "category_orders": self.category_orders,
            "category_grouped": self.category_grouped,
            "members": self.category_members,
        }

    def plus_one(self) -> "Figures":
        """One more counted order of the goods, so of its category too."""
        return Figures(
            self.kind,
            self.orders + 1,
            self.grouped,
            self.category_orders + 1,
            self.category_grouped,
            self.category_members,
        )

    def _rate(self, orders: int, grouped: int) -> Decimal | None:
        return ratio(orders, grouped) if self.kind == ReasonClass.QUALITY else logistics_rate(orders, grouped)

    @property
    def rate(self) -> Decimal | None:
        # SPEC §5: goods without grouped orders in the window have no rate
        return self._rate(self.orders, self.grouped) if self.grouped else None

    @property
    def category_rate(self) -> Decimal | None:
        return self._rate(self.category_orders, self.category_grouped)

    @property
    def category_count(self) -> Decimal | None:
        return ratio(self.category_orders, self.category_members)

    @property
    def times(self) -> tuple[int, ...]:
        return QUALITY_TIMES if self.kind == ReasonClass.QUALITY else (LOGISTICS_TIMES,)

    @property
    def lines(self) -> list[tuple[int, Decimal | None, Decimal | None]]:
        """(k, k × category rate, k × category count) of each line, for reading; the flag compares
        the exact fractions, not these rounded figures."""
        return [
            (
                k,
                None if self.category_rate is None else k * self.category_rate,
                None if self.category_count is None else k * self.category_count,
            )
            for k in self.times
        ]

    @property
    def level(self) -> int:
        """The highest line the goods is over: 0, 3 or 5."""
        if self.kind == ReasonClass.QUALITY:
            return {Flag.OVER_5X: 5, Flag.OVER_3X: 3}.get(quality_flag(**self._numbers()), 0)
        return LOGISTICS_TIMES if logistics_over_category(**self._numbers()) else 0


@dataclass(frozen=True)
class ActionImpact:
    name: str  # the transition's name, or WAITING
    label: str
    effect: str
    at: dt.datetime | None  # when it happens by itself (doing nothing)
    before: Figures | None
    after: Figures | None  # None: no snapshot, or the case's class has no figure here

    @property
    def effect_label(self) -> str:
        return Effect.LABELS[self.effect]

    @property
    def conditional(self) -> bool:
        return self.effect in (Effect.AFTER_RETURN, Effect.IF_RULED)

    @property
    def changes(self) -> bool:
        return self.before is not None and self.after != self.before

    @property
    def crosses(self) -> int:
        """The line the action takes the goods over (3 or 5; the higher one), 0 for none."""
        if self.before is None or self.after is None or self.after.level <= self.before.level:
            return 0
        return self.after.level


@dataclass(frozen=True)
class CaseImpact:
    case: AfterSalesCase
    kind: str  # the figure the case's refund counts in: ReasonClass.QUALITY / LOGISTICS, or OTHER
    snapshot_date: dt.date | None  # None: the goods has no daily snapshot yet
    counted_already: bool  # the order counts in the figure already (a refund adds nothing)
    excluded: bool  # the order never counts by this refund (a logistics refund to Xinjiang)
    before: Figures | None
    rows: list[ActionImpact]

    @property
    def has_figure(self) -> bool:
        return self.kind in (ReasonClass.QUALITY, ReasonClass.LOGISTICS)


def action_effect(name: str, case: AfterSalesCase) -> str:
    """Where the action `name` takes the case from its state, from its @transition declaration."""
    declared = declared_transitions()[name]
    spec = declared.get(case.state) or declared.get("*") or next(iter(declared.values()))
    target = spec.target
    if target is None:
        return Effect.DEADLINE_MOVED
    if isinstance(target, GET_STATE):
        # A target chosen by what the form says (the ruling's liable party) is one of its states;
        # one decided by the case alone (agree: refund-only or a return) is read from the case.
        chooses = [p for p in inspect.signature(target.func).parameters.values() if p.kind is p.KEYWORD_ONLY]
        if chooses:
            return Effect.IF_RULED if State.REFUNDED in target.allowed_states else Effect.NO_REFUND
        target = target.func(case)
    return _EFFECT_OF_STATE.get(target, Effect.NO_REFUND)


def _waiting(case: AfterSalesCase) -> tuple[str, dt.datetime | None]:
    automatic = automatic_transitions().get(case.state)
    if automatic is None or case.due_at is None:
        return Effect.STAYS_OPEN, None
    if automatic.target == State.REFUNDED:
        return Effect.REFUNDED_AT_DEADLINE, case.due_at
    return Effect.CLOSES_AT_DEADLINE, case.due_at


def _figure_of(kind: str) -> Figure | AnyOf:
    return QUALITY_REFUND if kind == ReasonClass.QUALITY else LOGISTICS_ANOMALY


def _refund_source(figure: Figure | AnyOf) -> Figure:
    """The part of the figure a refund of the case counts by."""
    if isinstance(figure, AnyOf):
        return next(s for s in figure.sources if s.model is Refund)
    return figure


def _counted_already(figure: Figure | AnyOf, order: Order, day: dt.date) -> bool:
    """Whether the figure counts the order in the window of `day`, by any of its rows."""
    window = window_for(day)
    sources = figure.sources if isinstance(figure, AnyOf) else (figure,)
    counted = [
        Q(
            pk__in=s.rows(shop_id=order.shop_id, start=window.start, end=window.end)
            .filter(order_id=order.pk)
            .values(s.order)
        )
        for s in sources
    ]
    return Order.objects.filter(pk=order.pk).filter(reduce(or_, counted)).exists()


def _latest_snapshot(case: AfterSalesCase) -> GoodsDaySnapshot | None:
    # The shop's snapshot dates are indexed by (shop, date); the goods rows only by their whole key.
    latest = ShopDaySnapshot.objects.filter(shop_id=case.shop_id).order_by("-date").values("date")[:1]
    return GoodsDaySnapshot.objects.filter(date=latest, shop_id=case.shop_id, goods_id=case.order.goods_id).first()


def _figures(snapshot: GoodsDaySnapshot, kind: str) -> Figures:
    if kind == ReasonClass.QUALITY:
        orders, category_orders = snapshot.quality_refund_orders, snapshot.category_quality_refund_orders
    else:
        orders, category_orders = snapshot.logistics_anomaly_orders, snapshot.category_logistics_anomaly_orders
    return Figures(
        kind,
        orders,
        snapshot.grouped_orders,
        category_orders,
        snapshot.category_grouped_orders,
        snapshot.category_goods,
    )


def case_impact(*, case: AfterSalesCase, actions: Sequence[Action]) -> CaseImpact:
    """Each of `actions` (those the page offers now) and doing nothing, in that order, with the
    goods' figures before and after. `case.order` should be loaded with the case."""
    kind = REASON_CLASS.get(case.reason, ReasonClass.OTHER)
    has_figure = kind in (ReasonClass.QUALITY, ReasonClass.LOGISTICS)
    snapshot = _latest_snapshot(case) if has_figure else None
    before = _figures(snapshot, kind) if snapshot else None
    figure = _figure_of(kind) if has_figure else None
    excluded = bool(
        figure is not None
        and not getattr(_refund_source(figure), "xinjiang", True)
        and case.order.ship_to.startswith(XINJIANG)
    )
    counted = bool(snapshot and not excluded and _counted_already(figure, case.order, snapshot.date))
    adds = before is not None and not counted and not excluded
    waiting_effect, due = _waiting(case)
    choices = [(a.name, a.label, action_effect(a.name, case), None) for a in actions]
    choices.append((WAITING, _("Do nothing"), waiting_effect, due))
    rows = []
    for name, label, effect, when in choices:
        refunds = effect in Effect.REFUNDING or (effect == Effect.DEADLINE_MOVED and waiting_effect in Effect.REFUNDING)
        after = before.plus_one() if adds and refunds else before
        rows.append(ActionImpact(name, str(label), effect, when, before, after))
    return CaseImpact(
        case=case,
        kind=kind,
        snapshot_date=snapshot.date if snapshot else None,
        counted_already=counted,
        excluded=excluded,
        before=before,
        rows=rows,
    )


def case_panel(case: AfterSalesCase, user, actions: Sequence[Action]) -> tuple[str, dict] | None:
    """The case page's panel (aftersales.case_panels): none for a case that is over."""
    if case.state in TERMINAL_STATES:
        return None
    return "metrics/_case_impact.html", {"impact": case_impact(case=case, actions=actions)}
