"""Service-quality pages (数据中心 → 售后服务质量). Views pick the shop and day and render selectors."""

import datetime as dt

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_tables2 import RequestConfig

from customerservice import selectors as service_selectors
from customerservice.models import fine_year
from pddadmin.exports import table_download
from pddadmin.shops.models import Shop
from pddadmin.shops.selectors import is_platform_staff, shops_for

from . import selectors
from .tables import GoodsTable, OrderTable, ShopRankingTable
from .windows import WINDOW_DAYS, yesterday

ECHARTS = "vendor/echarts/echarts.min.js"
TREND_DAYS = 90
FIGURE_LABELS = {
    "dispute_refund": gettext_lazy("dispute refund orders"),
    "quality_refund": gettext_lazy("quality refund orders"),
    "intervention": gettext_lazy("intervention orders"),
    "logistics_anomaly": gettext_lazy("logistics anomaly orders"),
    "grouped": gettext_lazy("grouped orders"),
}


def _day(request: HttpRequest, default: dt.date | None) -> dt.date:
    value = request.GET.get("date")
    if value:
        try:
            return dt.date.fromisoformat(value)
        except ValueError as exc:
            raise Http404(_("Invalid date.")) from exc
    return default or yesterday()


def _shop(request: HttpRequest) -> tuple[Shop, list[Shop] | None]:
    """The requested shop if the user may see it (else 404); merchant staff default to their first
    shop. Returns the choices for the picker: the user's shops, or None for platform staff, who
    type any shop id instead of scrolling a thousand names.

    `?shop=` is the shop's pk (links and the picker), `?shop_id=` a platform id as typed: one
    parameter for both would open another shop for an id such as "12", which is a valid id."""
    platform = is_platform_staff(request.user)
    choices = None if platform else list(shops_for(request.user))
    pk, platform_id = request.GET.get("shop", ""), request.GET.get("shop_id", "")
    if pk or platform_id:
        if pk and not (pk.isascii() and pk.isdigit()):
            raise Http404(_("No such shop."))
        field, value = ("pk", int(pk)) if pk else ("platform_id", platform_id)
        if platform:
            shop = Shop.objects.filter(**{field: value}).first()
        else:  # among the shops already loaded for the picker
            shop = next((s for s in choices if getattr(s, field) == value), None)
        if shop is None:
            raise Http404(_("No such shop."))
        return shop, choices
    fallback = Shop.objects.order_by("platform_id").first() if platform else None
    shop = fallback or (choices[0] if choices else None)
    if shop is None:
        raise PermissionDenied(_("You are not staff of any shop."))
    return shop, choices


def _rate_cards(figures, scope: str) -> list[dict]:
    prefix = "day_" if scope == "day" else ""
    denominator = getattr(figures, f"{prefix}grouped_orders")
    cards = []
    for key, label in (
        ("dispute_refund", _("Dispute refund rate")),
        ("quality_refund", _("Quality refund rate")),
        ("intervention", _("Intervention rate")),
    ):
        cards.append(
            {
                "key": key,
                "label": label,
                "numerator": getattr(figures, f"{prefix}{key}_orders"),
                "denominator": denominator,
                "rate": getattr(figures, f"{prefix}{key}_rate"),
            }
        )
    return cards


def _service_tile(request: HttpRequest, shop: Shop) -> dict:
    """Customer service now (SPEC §7.1): conversations to answer within the at-risk window (or
    overdue), and the shop's late-reply violations of this year."""
    now = timezone.now()
    conversations = service_selectors.conversations_for(request.user).filter(shop=shop)
    return {
        "at_risk": service_selectors.at_risk(conversations, now=now).count(),
        "hours": int(service_selectors.AT_RISK_WITHIN.total_seconds() // 3600),
        "year": fine_year(now),
        "violations": service_selectors.violations_of_year(shop=shop, year=fine_year(now)).count(),
    }


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    shop, choices = _shop(request)
    day = _day(request, None if request.GET.get("date") else selectors.snapshot_latest_date(shop=shop))
    snapshot = selectors.snapshot_get(shop=shop, day=day)
    # A day not yet snapshotted (e.g. today) is computed live for this shop; the goods table and
    # flags exist only in snapshots.
    figures = snapshot or selectors.shop_figures(shop=shop, day=day)
    goods = GoodsTable(selectors.goods_snapshots(shop=shop, day=day), prefix="g-")
    RequestConfig(request, paginate={"per_page": 20}).configure(goods)
    if file := table_download(request, goods, f"goods-{shop.platform_id}-{day}"):
        return file
    trend = selectors.shop_trend(shop=shop, day=day, days=TREND_DAYS)
    return render(
        request,
        "metrics/dashboard.html",
        {
            "title": _("After-sales service quality"),
            "shop": shop,
            "shop_choices": choices,
            "day": day,
            "window_start": day - dt.timedelta(days=WINDOW_DAYS - 1),
            "snapshot": snapshot,
            "window_cards": _rate_cards(figures, "window"),
            "day_cards": _rate_cards(figures, "day"),
            "logistics": selectors.logistics_tiles(figures=figures, snapshot=snapshot),
            "logistics_goods": selectors.logistics_goods(shop=shop, day=day),
            "restriction_days": settings.GOODS_RESTRICTION_CONSECUTIVE_DAYS,
            "coming_up": selectors.coming_up(
                shop=shop, day=day, consecutive_days=settings.GOODS_RESTRICTION_CONSECUTIVE_DAYS
            ),
            "trend": trend,
            "goods_table": goods,
            "echarts_installed": finders.find(ECHARTS) is not None,
            "echarts": ECHARTS,
            "is_platform": choices is None,
            "service": _service_tile(request, shop),
        },
    )


@login_required
def numerator_orders(request: HttpRequest) -> HttpResponse:
    shop, _choices = _shop(request)
    day = _day(request, None)
    figure = request.GET.get("figure", "")
    scope = request.GET.get("scope", "window")
    if figure not in selectors.FIGURES or scope not in selectors.SCOPES:
        raise Http404(_("Unknown figure."))
    table = OrderTable(selectors.numerator_orders(shop=shop, day=day, figure=figure, scope=scope))
    RequestConfig(request, paginate={"per_page": 50}).configure(table)
    return render(
        request,
        "metrics/orders.html",
        {
            "title": FIGURE_LABELS[figure],
            "shop": shop,
            "day": day,
            "scope": scope,
            "window_start": day - dt.timedelta(days=WINDOW_DAYS - 1),
            "figure_label": FIGURE_LABELS[figure],
            "table": table,
        },
    )


@login_required
def platform_overview(request: HttpRequest) -> HttpResponse:
    if not is_platform_staff(request.user):
        raise PermissionDenied(_("Only platform reviewers see every shop."))
    day = _day(request, None if request.GET.get("date") else selectors.snapshot_latest_date())
    table = ShopRankingTable(selectors.platform_ranking(day=day))
    RequestConfig(request, paginate={"per_page": 50}).configure(table)
    if file := table_download(request, table, f"shops-{day}"):
        return file
    return render(
        request,
        "metrics/platform.html",
        {
            "title": _("Service quality: all shops"),
            "day": day,
            "table": table,
            "restricted": selectors.restricted_goods(day=day),
            "logistics_shops": selectors.logistics_restricted_shops(day=day),
            "logistics_goods": selectors.logistics_restricted_goods(day=day),
            "restriction_days": settings.GOODS_RESTRICTION_CONSECUTIVE_DAYS,
        },
    )
