"""Warranty violations: report, merchant explanation and evidence, ruling (SPEC §6).

Decided here:
- One order may not sit in two open-or-upheld violations for the same reason (the database
  refuses it too); a dismissed report releases the order, so a new report can be made.
- The merchant may explain until `explanation_due_at` = reported_at + WARRANTY_EXPLANATION_HOURS
  (setting, default 48 h, like the merchant deadline of an after-sales case). Reviewers may rule
  at any time, also before that deadline.
"""

import datetime as dt
import secrets
from collections.abc import Sequence

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from pddadmin.fsm import declared, unmet
from pddadmin.shops.models import Order
from pddadmin.shops.selectors import is_platform_staff
from pddadmin.timefmt import shown

from ..models import Violation, ViolationEvidence, ViolationLog, ViolationOrder, ViolationReason


def explanation_window() -> dt.timedelta:
    return dt.timedelta(hours=settings.WARRANTY_EXPLANATION_HOURS)


def new_violation_id(now: dt.datetime | None = None) -> str:
    """Id for a report entered by a reviewer (the feed brings its own), dated by the platform's
    calendar (Asia/Shanghai): a report at 07:00 Shanghai is of that day, not of yesterday in UTC."""
    day = timezone.localtime(now or timezone.now())
    return f"WV-{day:%Y%m%d}-{secrets.token_hex(4).upper()}"


def _log(violation: Violation, *, action: str, from_state: str, actor, source: str, at, note: str = "") -> ViolationLog:
    return ViolationLog.objects.create(
        violation=violation,
        action=action,
        from_state=from_state,
        to_state=violation.state,
        actor=actor,
        source=source,
        at=at,
        note=note,
    )


def _check_reported_orders(orders: Sequence[Order], *, reason: str, at: dt.datetime) -> None:
    """The orders of one report: one shop, national warranty when placed, placed before the
    report, and in no other active violation for the same reason."""
    shop_id = orders[0].shop_id
    for order in orders:
        if order.shop_id != shop_id:
            raise ValidationError(
                _("orders of one violation must belong to one shop: %(a)s is of shop %(sa)s, %(b)s of shop %(sb)s")
                % {
                    "a": orders[0].platform_id,
                    "sa": orders[0].shop.platform_id,
                    "b": order.platform_id,
                    "sb": order.shop.platform_id,
                }
            )
        if not order.warranty:
            raise ValidationError(_("order %(id)s was placed without national warranty") % {"id": order.platform_id})
        if at < order.placed_at:
            raise ValidationError(
                _("report time %(at)s is before order %(id)s was placed")
                % {"at": shown(at, seconds=True), "id": order.platform_id}
            )
    taken = (
        ViolationOrder.objects.filter(order__in=orders, reason=reason, active=True)
        .select_related("violation", "order")
        .first()
    )
    if taken is not None:
        raise ValidationError(
            _("order %(order)s is already in violation %(other)s for the same reason")
            % {"order": taken.order.platform_id, "other": taken.violation.platform_id}
        )


@transaction.atomic
def violation_report(
    *,
    platform_id: str,
    orders: Sequence[Order],
    reason: str,
    at: dt.datetime,
    actor: AbstractBaseUser | None = None,
    source: str = "feed",
    complaint: str = "",
) -> Violation:
    """Record a buyer's report over one or more orders of one shop, in the order listed."""
    if actor is not None and not is_platform_staff(actor):
        raise PermissionDenied(_("only platform reviewers may enter a warranty report"))
    if reason not in ViolationReason.values:
        raise ValidationError(_("unknown violation reason %(reason)s") % {"reason": reason})
    if not orders:
        raise ValidationError(_("a violation needs at least one order"))
    if len({o.pk for o in orders}) != len(orders):
        raise ValidationError(_("a violation lists the same order twice"))
    if Violation.objects.filter(platform_id=platform_id).exists():
        raise ValidationError(_("violation %(id)s already exists") % {"id": platform_id})
    _check_reported_orders(orders, reason=reason, at=at)
    shop_id = orders[0].shop_id
    violation = Violation.objects.create(
        platform_id=platform_id,
        shop_id=shop_id,
        reason=reason,
        complaint=complaint,
        reported_at=at,
        reported_by=actor,
        explanation_due_at=at + explanation_window(),
        changed_at=at,
    )
    ViolationOrder.objects.bulk_create(
        [
            ViolationOrder(violation=violation, order=order, position=position, reason=reason)
            for position, order in enumerate(orders, start=1)
        ]
    )
    _log(violation, action="report", from_state="", actor=actor, source=source, at=at, note=complaint)
    return violation


def _lock(violation: Violation) -> Violation:
    return Violation.objects.select_for_update().select_related("shop").get(pk=violation.pk)


def _take(
    violation: Violation, name: str, *, actor, at: dt.datetime, source: str, log_note: str, **kwargs
) -> ViolationLog:
    """Take the declared transition `name` on the locked `violation` and log it: the one way a
    violation changes. Refused, in this order, when the transition does not leave the current
    state, when the actor is not one it is for (`actor` None: the platform feed), or when one of
    its conditions does not hold at `at`. The caller saves the violation."""
    spec = declared(violation, name)
    if spec is None:
        raise ValidationError(
            _("violation %(id)s is already ruled (%(state)s)")
            % {"id": violation.platform_id, "state": violation.get_state_display()}
        )
    if actor is not None and not spec.has_perm(violation, actor):
        raise PermissionDenied(spec.custom["refused"])
    from_state = violation.state
    violation.acting_at = at
    try:
        broken = unmet(spec, violation)
        if broken is not None:
            raise ValidationError(broken.explain(violation))
        getattr(violation, name)(at=at, **kwargs)
    finally:
        violation.acting_at = None
    return _log(violation, action=name, from_state=from_state, actor=actor, source=source, at=at, note=log_note)


@transaction.atomic
def violation_explain(
    *,
    violation: Violation,
    actor: AbstractBaseUser,
    text: str,
    at: dt.datetime | None = None,
    image: UploadedFile | None = None,
    url: str = "",
    evidence_note: str = "",
) -> Violation:
    """The merchant's explanation (replacing an earlier one) and optional evidence, before the deadline."""
    violation = _lock(violation)
    at = at or timezone.now()
    _take(violation, "explain", actor=actor, at=at, source="admin", log_note=(text or "").strip(), text=text)
    violation.save()
    if image or url:
        ViolationEvidence.objects.create(
            violation=violation,
            side=ViolationEvidence.Side.MERCHANT,
            image=image or "",
            url=url,
            note=evidence_note[:255],
            added_by=actor,
            added_at=at,
        )
    return violation


@transaction.atomic
def violation_rule(
    *,
    violation: Violation,
    breach: bool,
    note: str,
    at: dt.datetime | None = None,
    actor: AbstractBaseUser | None = None,
    source: str = "review",
) -> Violation:
    """A reviewer's ruling. Breach makes every order of the violation due a ¥100 payout."""
    violation = _lock(violation)
    at = at or timezone.now()
    # The log row first: its id is the ruling's place in the payout order, saved with the ruling.
    entry = _take(
        violation,
        "rule",
        actor=actor,
        at=at,
        source=source,
        log_note=(note or "").strip(),
        breach=breach,
        by=actor,
        note=note,
    )
    violation.ruled_seq = entry.pk
    violation.save()
    if not breach:
        # A dismissed report no longer blocks a new report of the same order and reason.
        violation.lines.update(active=False)
    return violation
