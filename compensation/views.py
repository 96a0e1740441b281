"""Merchant pages (violations, payouts, charges, accounts and statements, orders' money) and the
platform staff's credit form; the reviewers' warranty tab is in `review`.

Thin: selectors read, services write; merchant staff see their shops, platform staff every shop.
"""

import datetime as dt
import uuid
from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from pddadmin.exports import download
from pddadmin.shops.models import Shop
from pddadmin.shops.paginator import LargeTablePaginator
from pddadmin.shops.selectors import handles_cases, is_platform_staff, shops_for

from . import selectors
from .forms import CreditForm, ExplanationForm, RulingForm
from .models import Account, AccountKind, ChargeKind, Credit, CreditKind, ViolationState
from .services import charges, credits, ledger, shipping
from .services import violations as services

PER_PAGE = 50
URGENT = dt.timedelta(hours=6)  # shown in orange: what must ship today
SHOP_CHOICES = 200  # a shop filter lists up to this many shops; beyond, it asks for the shop id


def _download(rows, *, columns, fmt: str, filename: str) -> HttpResponse:
    """A page's download for people: the same rows as the command's, headed in the reader's language."""
    return download(
        ([row[c] for c in columns] for row in rows),
        columns=[str(selectors.COLUMN_LABELS[c]) for c in columns],
        fmt=fmt,
        filename=filename,
    )


def _page(request: HttpRequest, qs):
    return LargeTablePaginator(qs, PER_PAGE).get_page(request.GET.get("page"))


@login_required
def violation_list(request: HttpRequest) -> HttpResponse:
    qs = selectors.violations_for(request.user)
    state = request.GET.get("state")
    if state in ViolationState.values:
        qs = qs.filter(state=state)
    return render(
        request,
        "compensation/violation_list.html",
        {
            "page": _page(request, qs),
            "states": ViolationState.choices,
            "state": state,
        },
    )


@login_required
def violation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    violation = get_object_or_404(selectors.violations_for(request.user), pk=pk)
    now = timezone.now()
    actions = selectors.violation_actions(violation=violation, user=request.user)
    explanation_form = ExplanationForm(initial={"text": violation.explanation})
    ruling_form = RulingForm()
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "explain":
                explanation_form = ExplanationForm(request.POST, request.FILES)
                if explanation_form.is_valid():
                    services.violation_explain(
                        violation=violation, actor=request.user, at=now, **explanation_form.cleaned_data
                    )
                    messages.success(request, _("Your explanation was saved."))
                    return redirect("compensation:violation", pk=violation.pk)
            elif action == "rule":
                ruling_form = RulingForm(request.POST)
                if ruling_form.is_valid():
                    services.violation_rule(violation=violation, actor=request.user, at=now, **ruling_form.cleaned_data)
                    messages.success(request, _("The ruling was recorded."))
                    return redirect("review:warranty")
            else:
                raise Http404
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return redirect("compensation:violation", pk=violation.pk)
    return render(
        request,
        "compensation/violation_detail.html",
        {
            "violation": violation,
            "lines": violation.lines.select_related("order__goods", "payout").order_by("position"),
            "evidence": violation.evidence.all(),
            "log": violation.log.select_related("actor"),
            "actions": actions,
            "explanation_form": explanation_form,
            "ruling_form": ruling_form,
        },
    )


@login_required
def payout_list(request: HttpRequest) -> HttpResponse:
    qs = selectors.payouts_for(request.user)
    fmt = request.GET.get("export")
    if fmt in ("csv", "xlsx"):
        return _download(
            selectors.payout_rows(qs), columns=selectors.PAYOUT_COLUMNS, fmt=fmt, filename=f"payouts.{fmt}"
        )
    return render(request, "compensation/payout_list.html", {"page": _page(request, qs)})


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def _pick(request: HttpRequest, name: str, choices) -> str:
    value = request.GET.get(name, "")
    return value if value in choices else ""


@login_required
def charge_list(request: HttpRequest) -> HttpResponse:
    """Every charge of the user's shops, newest first; by kind and, for users of several shops, by
    shop (a list of them, or for platform staff of many shops a box for the shop id)."""
    qs = selectors.charges_for(request.user)
    kind = _pick(request, "kind", ChargeKind.values)
    if kind:
        qs = qs.filter(kind=kind)
    shops = list(
        shops_for(request.user).order_by("platform_id").values_list("pk", "name", "platform_id")[: SHOP_CHOICES + 1]
    )
    choices = shops if 1 < len(shops) <= SHOP_CHOICES else None
    shop = _pick(request, "shop", {str(pk) for pk, _name, _pid in choices or ()})
    shop_id = request.GET.get("shop_id", "").strip() if len(shops) > SHOP_CHOICES else ""
    if shop:
        qs = qs.filter(shop_id=int(shop))
    elif shop_id:
        qs = qs.filter(shop__platform_id=shop_id)
    fmt = request.GET.get("export")
    if fmt in ("csv", "xlsx"):
        return _download(
            selectors.charge_rows(qs), columns=selectors.CHARGE_COLUMNS, fmt=fmt, filename=f"charges.{fmt}"
        )
    return render(
        request,
        "compensation/charge_list.html",
        {
            "page": _page(request, qs),
            "kinds": ChargeKind.choices,
            "kind": kind,
            "several_shops": len(shops) > 1,
            "shop_choices": choices,
            "shop": shop,
            "shop_id": shop_id,
        },
    )


@login_required
def account_list(request: HttpRequest) -> HttpResponse:
    """One row per shop: deposit, goods balance and arrears (what it owes), each linking to its
    statement; platform staff record settlements and deposit payments from here."""
    shops = shops_for(request.user)
    shop_id = request.GET.get("shop_id", "").strip()
    if shop_id:
        shops = shops.filter(platform_id=shop_id)
    shops = selectors.shop_accounts(shops).order_by("platform_id")
    fmt = request.GET.get("export")
    if fmt in ("csv", "xlsx"):
        return _download(
            selectors.account_rows(shops), columns=selectors.ACCOUNT_COLUMNS, fmt=fmt, filename=f"accounts.{fmt}"
        )
    return render(
        request,
        "compensation/account_list.html",
        {
            "page": _page(request, shops),
            "shop_id": shop_id,
            "records_credits": is_platform_staff(request.user),
            "several_shops": shop_id != "" or shops_for(request.user)[:2].count() > 1,
        },
    )


@login_required
def account_statement(request: HttpRequest, pk: int) -> HttpResponse:
    account: Account = get_object_or_404(selectors.accounts_for(request.user), pk=pk)
    fmt = request.GET.get("export")
    if fmt in ("csv", "xlsx"):
        name = f"statement-{account.shop.platform_id}-{account.kind}"
        return _download(
            selectors.statement_rows(account=account),
            columns=selectors.STATEMENT_COLUMNS,
            fmt=fmt,
            filename=f"{name}.{fmt}",
        )
    return render(
        request,
        "compensation/account_statement.html",
        {
            "account": account,
            "page": _page(request, selectors.statement(account=account)),
            "owed": -account.balance if account.kind == AccountKind.ARREARS else None,
        },
    )


def _credit_message(credit: Credit) -> str:
    target = _("the goods balance") if credit.kind == CreditKind.SETTLEMENT else _("the deposit")
    return _(
        "%(kind)s of ¥%(amount)s recorded for %(shop)s: ¥%(arrears)s paid off arrears, ¥%(credited)s credited to "
        "%(target)s."
    ) % {
        "kind": credit.get_kind_display(),
        "amount": _money(credit.amount),
        "shop": credit.shop.name,
        "arrears": _money(credit.to_arrears),
        "credited": _money(credit.credited),
        "target": target,
    }


@login_required
def shop_credit(request: HttpRequest, pk: int) -> HttpResponse:
    """Platform staff record a settlement or a deposit payment for a shop (SPEC §6.1)."""
    if not is_platform_staff(request.user):
        raise PermissionDenied
    shop = get_object_or_404(selectors.shop_accounts(shops_for(request.user)), pk=pk)
    now = timezone.now()
    form = CreditForm(request.POST or None, now=now, initial={"kind": CreditKind.SETTLEMENT, "token": uuid.uuid4().hex})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        reference = f"form:{data['token']}"
        try:
            with transaction.atomic():
                # The shop row first, as the ledger locks it: a second post of the same form waits
                # here for the first and then finds its credit instead of recording another.
                list(Shop.objects.select_for_update().filter(pk=shop.pk).values_list("pk"))
                credit = Credit.objects.filter(shop=shop, source="admin", reference=reference).first()
                if credit is None:
                    credit = credits.shop_credit(
                        shop=shop,
                        kind=data["kind"],
                        amount=data["amount"],
                        at=data["at"],
                        source="admin",
                        actor=request.user,
                        reference=reference,
                        note=data["note"],
                    )
        except ValidationError as error:
            form.add_error(None, error.messages)
        else:
            messages.success(request, _credit_message(credit))
            return redirect(f"{reverse('compensation:accounts')}?{urlencode({'shop_id': shop.platform_id})}")
    return render(
        request,
        "compensation/credit_form.html",
        {
            "shop": shop,
            "form": form,
            "last_movement": ledger.last_movement(shop=shop),
        },
    )


# --- orders: their money, and the merchant's out-of-stock declaration (SPEC §7.3) ---------------


@login_required
def order_list(request: HttpRequest) -> HttpResponse:
    """Orders to ship, the most urgent first; an order id typed in opens that order's page."""
    wanted = request.GET.get("order", "").strip()
    if wanted:
        order = selectors.orders_for(request.user).filter(platform_id=wanted).first()
        if order is not None:
            return redirect("compensation:order", pk=order.pk)
        messages.error(request, _("No order %(id)s among your shops' orders.") % {"id": wanted})
    qs = selectors.orders_to_ship(request.user)
    now = timezone.now()
    return render(
        request,
        "compensation/order_list.html",
        {
            "page": _page(request, qs),
            "now": now,
            "soon": now + URGENT,
            "wanted": wanted,
            "several_shops": shops_for(request.user)[:2].count() > 1,
            "late_policy": _policy(ChargeKind.LATE_SHIPMENT),
        },
    )


def _policy(kind: str) -> dict:
    """The shipping compensation policy of `kind` (settings), as a page states it."""
    policy = settings.SHIPPING_COMPENSATION[kind]
    return {
        "percent": f"{(Decimal(policy['rate']) * 100).normalize():f}%",
        "minimum": Decimal(policy["minimum"]),
        "maximum": Decimal(policy["maximum"]),
    }


def _order(request: HttpRequest, pk: int):
    return get_object_or_404(selectors.orders_for(request.user), pk=pk)


def _compensation_context(order) -> dict:
    """What declaring `order` out of stock now would cost, for the page to say before the click."""
    now = timezone.now()
    existing = selectors.shipping_charge(order)
    late = existing is None and order.grouped_at is not None and order.grouped_at <= order.promised_ship_by < now
    return {
        "existing": existing,
        "late": late,
        "late_amount": charges.shipping_compensation(ChargeKind.LATE_SHIPMENT, order.amount),
        "amount": charges.shipping_compensation(ChargeKind.OUT_OF_STOCK, order.amount),
        "policy": _policy(ChargeKind.OUT_OF_STOCK),
        "coupon_days": settings.SHIPPING_COUPON_DAYS,
    }


@login_required
def order_detail(request: HttpRequest, pk: int) -> HttpResponse:
    order = _order(request, pk)
    offered = selectors.out_of_stock_offered(order=order, user=request.user)
    return render(
        request,
        "compensation/order_detail.html",
        {
            "order": order,
            "charges": selectors.order_charges(order),
            "cases": selectors.order_cases(order),
            "offered": offered,
            **(_compensation_context(order) if offered else {}),
        },
    )


def _charge_message(order, charge) -> str:
    if charge is None:
        existing = selectors.shipping_charge(order)
        if existing is None:  # cannot happen: a declaration without a charge means one existed
            return _("Order %(order)s is marked out of stock.") % {"order": order.platform_id}
        return _(
            "Order %(order)s is marked out of stock. Its buyer already had a %(kind)s of ¥%(amount)s (%(at)s), "
            "so nothing more was charged."
        ) % {
            "order": order.platform_id,
            "kind": existing.get_kind_display(),
            "amount": _money(existing.amount),
            "at": timezone.localtime(existing.at).strftime("%Y-%m-%d %H:%M"),
        }
    return _(
        "Order %(order)s is marked out of stock. Its buyer receives a ¥%(amount)s coupon; charged ¥%(deposit)s "
        "from the deposit, ¥%(balance)s from the goods balance, ¥%(arrears)s added to arrears."
    ) % {
        "order": order.platform_id,
        "amount": _money(charge.amount),
        "deposit": _money(charge.from_deposit),
        "balance": _money(charge.from_balance),
        "arrears": _money(charge.arrears),
    }


@login_required
def order_out_of_stock(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: what the declaration means and costs, and the confirm button; POST: declare it."""
    order = _order(request, pk)
    if request.method == "POST":
        try:
            charge = shipping.order_declare_out_of_stock(order=order, at=timezone.now(), actor=request.user)
        except ValidationError as error:
            messages.error(
                request,
                _("Order %(order)s was not marked out of stock: %(reason)s")
                % {
                    "order": order.platform_id,
                    "reason": " ".join(error.messages),
                },
            )
        else:
            messages.success(request, _charge_message(order, charge))
        return redirect("compensation:order", pk=order.pk)
    if not handles_cases(request.user, order.shop_id):
        raise PermissionDenied
    if not selectors.out_of_stock_offered(order=order, user=request.user):
        messages.info(
            request,
            _(
                "Order %(order)s cannot be marked out of stock now: it is not grouped, or already shipped, "
                "marked out of stock or refunded."
            )
            % {"order": order.platform_id},
        )
        return redirect("compensation:order", pk=order.pk)
    return render(request, "compensation/order_out_of_stock.html", {"order": order, **_compensation_context(order)})
