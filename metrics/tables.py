"""Tables of the dashboard and the platform overview (django-tables2: sortable, exportable)."""

import django_tables2 as tables
from django.db.models import F
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from pddadmin.shops.models import Order
from pddadmin.shops.templatetags.platform_ids import link_text

from .models import GoodsDaySnapshot, ShopDaySnapshot
from .templatetags.metrics_tags import figure, percent, rate_value, yuan


class PercentColumn(tables.Column):
    def render(self, value):
        return percent(value)

    def value(self, value):  # exports carry the exported figure, not the display text
        return rate_value(value)


class FigureColumn(tables.Column):
    """A count, or a category's average count: shown as people read it (metrics_tags.figure),
    exported as stored."""

    def render(self, value):
        return figure(value)

    def value(self, value):
        return value


class MoneyColumn(tables.Column):
    def render(self, value):
        return yuan(value)

    def value(self, value):
        return f"{value:.2f}"


def _hidden(verbose_name, **kwargs) -> tables.Column:
    """A column of the export only: the page shows it inside another cell."""
    return tables.Column(verbose_name, visible=False, **kwargs)


class GoodsTable(tables.Table):
    """Each goods' quality refunds (SPEC §5) and logistics service (§5.1) against its category.

    Seventeen figures do not fit a 1280 px screen side by side, so the page groups them under two
    headings with short column names (header_groups, _grouped_table.html) and folds the goods' name
    into its id and the flag, restriction and their dates into one state cell per heading; the
    export keeps one column per figure, under its full name."""

    goods = tables.Column(_("goods"), accessor="goods__platform_id")
    name = _hidden(_("name"), accessor="goods__name")
    category = tables.Column(_("category"))
    grouped_orders = FigureColumn(_("grouped orders"))
    quality_refund_orders = FigureColumn(_("quality refund orders"))
    rate = PercentColumn(_("quality refund rate"), accessor="quality_refund_rate", order_by="rate")
    category_rate = PercentColumn(_("category rate"), accessor="category_quality_refund_rate", order_by="category_rate")
    category_count = FigureColumn(_("category count"), accessor="category_quality_refund_count", orderable=False)
    quality_state = tables.Column(
        _("state"),
        accessor="restriction",
        order_by=("-restriction", "-flag"),
        exclude_from_export=True,
        empty_values=(),
    )
    flag = _hidden(_("flag"), accessor="get_flag_display")
    restriction = _hidden(_("restriction"), accessor="get_restriction_display")
    restricted_since = _hidden(_("restricted since"))
    logistics_anomaly_orders = FigureColumn(_("logistics anomaly orders"))
    logistics_rate = PercentColumn(
        _("logistics anomaly rate"), accessor="logistics_anomaly_rate", order_by="logistics_rate"
    )
    category_logistics_rate = PercentColumn(
        _("category logistics anomaly rate"),
        accessor="category_logistics_anomaly_rate",
        order_by="category_logistics_rate",
    )
    logistics_state = tables.Column(
        _("state"),
        accessor="logistics_streak",
        order_by=("logistics_restricted_since", "-logistics_streak"),
        exclude_from_export=True,
        empty_values=(),
    )
    logistics_over_5x = _hidden(_("logistics over 5× category"))
    logistics_streak = _hidden(_("days logistics over 5×"))
    logistics_restricted_since = _hidden(_("logistics restricted since"))

    # (heading, ((column, short header), …)); a heading of None: the column stands alone
    HEADER_GROUPS = (
        (None, (("goods", _("goods")), ("category", _("category")), ("grouped_orders", _("grouped")))),
        (_("Quality refunds"), (
            ("quality_refund_orders", _("orders")),
            ("rate", _("rate")),
            ("category_rate", _("category rate")),
            ("category_count", _("category count")),
            ("quality_state", _("state")),
        )),
        (_("Logistics service"), (
            ("logistics_anomaly_orders", _("anomaly orders")),
            ("logistics_rate", _("rate")),
            ("category_logistics_rate", _("category anomaly rate")),
            ("logistics_state", _("state")),
        )),
    )  # fmt: skip

    class Meta:
        model = GoodsDaySnapshot
        fields = ()
        sequence = (
            "goods",
            "name",
            "category",
            "grouped_orders",
            "quality_refund_orders",
            "rate",
            "category_rate",
            "category_count",
            "quality_state",
            "flag",
            "restriction",
            "restricted_since",
            "logistics_anomaly_orders",
            "logistics_rate",
            "category_logistics_rate",
            "logistics_state",
            "logistics_over_5x",
            "logistics_streak",
            "logistics_restricted_since",
        )
        attrs = {"class": "metrics-table grouped-table", "id": "goods-table"}
        empty_text = _("No goods figures for this day.")
        order_by_field = "sort"
        template_name = "metrics/_grouped_table.html"

    def header_groups(self) -> list[dict]:
        """The visible columns under their headings, for the two header rows of the template."""
        visible = {column.name: column for column in self.columns}
        groups = []
        for heading, members in self.HEADER_GROUPS:
            cells = [(visible[name], short) for name, short in members if name in visible]
            if cells:
                groups.append({"heading": heading, "cells": cells})
        return groups

    def render_goods(self, record, value):
        return format_html('{}<br><span class="pdd-muted">{}</span>', record.goods.name, link_text(value))

    def value_goods(self, value):
        return value

    def render_quality_state(self, record):
        if record.restriction:
            return format_html(
                '<strong class="restricted">{}</strong><br><span class="pdd-muted">{}</span>',
                gettext("restricted, %(level)s") % {"level": record.get_restriction_display()},
                gettext("since %(date)s") % {"date": record.restricted_since.isoformat()},
            )
        return record.get_flag_display() if record.flag else "—"

    def render_logistics_state(self, record):
        if record.logistics_restricted:
            return format_html(
                '<strong class="restricted">{}</strong><br><span class="pdd-muted">{}</span>',
                gettext("restricted"),
                gettext("since %(date)s") % {"date": record.logistics_restricted_since.isoformat()},
            )
        if record.logistics_over_5x:
            return format_html(
                '<span class="flagged">{}</span><br><span class="pdd-muted">{}</span>',
                gettext("over 5×"),
                ngettext("%(n)d day running", "%(n)d days running", record.logistics_streak)
                % {"n": record.logistics_streak},
            )
        return "—"

    def value_flag(self, record):
        return record.flag

    def value_restriction(self, record):
        return record.restriction


class OrderTable(tables.Table):
    platform_id = tables.Column(_("order id"))
    goods = tables.Column(_("goods"), accessor="goods__platform_id")
    buyer = tables.Column(_("buyer id"))
    amount = MoneyColumn(_("paid amount"))
    grouped_at = tables.DateTimeColumn(format="Y-m-d H:i", verbose_name=_("grouped at"))

    class Meta:
        model = Order
        fields = ()
        sequence = ("platform_id", "goods", "buyer", "amount", "grouped_at")
        attrs = {"class": "metrics-table", "id": "orders-table"}
        empty_text = _("No orders.")


def _order_by_rate(key: str):
    # Shops without grouped orders have no rate: they go last whichever way the column is sorted.
    def order(self, queryset, is_descending):
        rate = F(f"{key}_rate_sort")
        rate = rate.desc(nulls_last=True) if is_descending else rate.asc(nulls_last=True)
        return queryset.order_by(rate, "shop__platform_id"), True

    return order


class ShopRankingTable(tables.Table):
    shop = tables.Column(_("shop"), accessor="shop__platform_id", empty_values=())  # a blank id still links
    name = tables.Column(_("name"), accessor="shop__name")
    grouped_orders = FigureColumn(_("grouped orders"))
    dispute_refund_rate = PercentColumn(_("dispute refund rate"))
    quality_refund_rate = PercentColumn(_("quality refund rate"))
    intervention_rate = PercentColumn(_("intervention rate"))
    logistics_anomaly_rate = PercentColumn(_("logistics anomaly rate"))
    flagged_goods = tables.Column(_("flagged goods"))
    restricted_goods = tables.Column(_("restricted goods"))

    class Meta:
        model = ShopDaySnapshot
        fields = ()
        sequence = (
            "shop",
            "name",
            "grouped_orders",
            "dispute_refund_rate",
            "quality_refund_rate",
            "intervention_rate",
            "logistics_anomaly_rate",
            "flagged_goods",
            "restricted_goods",
        )
        attrs = {"class": "metrics-table", "id": "ranking-table"}
        empty_text = _("No snapshot for this day.")
        order_by_field = "sort"

    order_dispute_refund_rate = _order_by_rate("dispute_refund")
    order_quality_refund_rate = _order_by_rate("quality_refund")
    order_intervention_rate = _order_by_rate("intervention")
    order_logistics_anomaly_rate = _order_by_rate("logistics_anomaly")

    def render_shop(self, record, value):
        url = reverse("metrics:dashboard")
        return format_html(
            '<a href="{}?shop={}&amp;date={}">{}</a>', url, record.shop_id, record.date, link_text(value)
        )

    def value_shop(self, value):
        return value

    def render_restricted_goods(self, value):
        return format_html('<strong class="restricted">{}</strong>', value) if value else "0"
