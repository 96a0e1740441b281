"""Tables of the dashboard and the platform overview (django-tables2: sortable, exportable)."""

import django_tables2 as tables
from django.db.models import F
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from pddadmin.shops.models import Order
from pddadmin.shops.templatetags.platform_ids import link_text

from .models import GoodsDaySnapshot, ShopDaySnapshot
from .templatetags.metrics_tags import percent, rate_value


class PercentColumn(tables.Column):
    def render(self, value):
        return percent(value)

    def value(self, value):  # exports carry the exported figure, not the display text
        return rate_value(value)


class GoodsTable(tables.Table):
    goods = tables.Column(_("goods"), accessor="goods__platform_id")
    name = tables.Column(_("name"), accessor="goods__name")
    category = tables.Column(_("category"))
    grouped_orders = tables.Column(_("grouped orders"))
    quality_refund_orders = tables.Column(_("quality refund orders"))
    rate = PercentColumn(_("quality refund rate"), accessor="quality_refund_rate", order_by="rate")
    category_rate = PercentColumn(
        _("category rate"), accessor="category_quality_refund_rate", order_by="category_rate"
    )
    category_count = tables.Column(
        _("category count"), accessor="category_quality_refund_count", orderable=False
    )
    flag = tables.Column(_("flag"), accessor="get_flag_display")
    restriction = tables.Column(_("restriction"), accessor="get_restriction_display", order_by="restriction")
    restricted_since = tables.Column(_("restricted since"))

    class Meta:
        model = GoodsDaySnapshot
        fields = ()
        sequence = ("goods", "name", "category", "grouped_orders", "quality_refund_orders", "rate",
                    "category_rate", "category_count", "flag", "restriction", "restricted_since")
        attrs = {"class": "metrics-table", "id": "goods-table"}
        empty_text = _("No goods figures for this day.")
        order_by_field = "sort"

    def render_flag(self, record, value):
        return value if record.flag else "—"

    def render_restriction(self, record, value):
        return value if record.restriction else "—"

    def value_flag(self, record):
        return record.flag

    def value_restriction(self, record):
        return record.restriction


class OrderTable(tables.Table):
    platform_id = tables.Column(_("order id"))
    goods = tables.Column(_("goods"), accessor="goods__platform_id")
    buyer = tables.Column(_("buyer id"))
    amount = tables.Column(_("paid amount"))
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
    grouped_orders = tables.Column(_("grouped orders"))
    dispute_refund_rate = PercentColumn(_("dispute refund rate"))
    quality_refund_rate = PercentColumn(_("quality refund rate"))
    intervention_rate = PercentColumn(_("intervention rate"))
    flagged_goods = tables.Column(_("flagged goods"))
    restricted_goods = tables.Column(_("restricted goods"))

    class Meta:
        model = ShopDaySnapshot
        fields = ()
        sequence = ("shop", "name", "grouped_orders", "dispute_refund_rate", "quality_refund_rate",
                    "intervention_rate", "flagged_goods", "restricted_goods")
        attrs = {"class": "metrics-table", "id": "ranking-table"}
        empty_text = _("No snapshot for this day.")
        order_by_field = "sort"

    order_dispute_refund_rate = _order_by_rate("dispute_refund")
    order_quality_refund_rate = _order_by_rate("quality_refund")
    order_intervention_rate = _order_by_rate("intervention")

    def render_shop(self, record, value):
        url = reverse("metrics:dashboard")
        return format_html(
            '<a href="{}?shop={}&amp;date={}">{}</a>', url, record.shop_id, record.date, link_text(value)
        )

    def value_shop(self, value):
        return value

    def render_restricted_goods(self, value):
        return format_html('<strong class="restricted">{}</strong>', value) if value else "0"
