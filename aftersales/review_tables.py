"""The intervention queue table and its export (CSV/XLSX, injection-safe)."""

import django_tables2 as tables
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django_tables2.export import TableExport

from pddadmin.exports import safe_cell

from .models import AfterSalesCase
from .selectors_review import is_overdue, waiting_hours


def _sla_class(record) -> str:
    return "pdd-sla pdd-overdue" if is_overdue(record.waiting) else "pdd-sla"


class QueueTable(tables.Table):
    platform_id = tables.Column(verbose_name=_("case"), linkify=("review:case", {"pk": tables.A("pk")}))
    order = tables.Column(verbose_name=_("order"), accessor="order__platform_id", order_by=("order__platform_id",))
    shop = tables.Column(verbose_name=_("shop"), accessor="shop__name", order_by=("shop__name", "shop_id"))
    kind = tables.Column(verbose_name=_("kind"))
    reason = tables.Column(verbose_name=_("reason"))
    amount = tables.Column(verbose_name=_("amount"), attrs={"td": {"class": "pdd-num"}})
    escalated_at = tables.Column(verbose_name=_("escalated at"))
    # Longest waiting first when sorted descending: SLA order is the reverse of escalation order.
    sla = tables.Column(
        verbose_name=_("SLA (hours)"),
        accessor="waiting",
        order_by=("-escalated_at", "-id"),
        attrs={"td": {"class": _sla_class}},
    )
    claimed_by = tables.Column(
        verbose_name=_("claimed by"), accessor="claimed_by__username", order_by=("claimed_by__username",),
        default="",
    )
    actions = tables.TemplateColumn(
        template_name="review/_queue_actions.html", verbose_name=_("actions"), orderable=False,
        exclude_from_export=True,
    )

    class Meta:
        model = AfterSalesCase
        fields = ()
        sequence = ("platform_id", "order", "shop", "kind", "reason", "amount", "escalated_at", "sla", "claimed_by")
        order_by = ("escalated_at",)
        attrs = {"id": "review-queue", "class": "pdd-queue"}
        empty_text = _("No case is waiting for intervention.")
        template_name = "review/_table.html"

    def render_escalated_at(self, value):
        return date_format(timezone.localtime(value), "Y-m-d H:i")

    def value_escalated_at(self, value):
        return timezone.localtime(value).isoformat()

    def render_sla(self, value):
        hours = waiting_hours(value)
        return "—" if hours is None else f"{hours:.1f}"

    def value_sla(self, value):
        return self.render_sla(value)

    def render_shop(self, value, record):
        return format_html("{} <span class='pdd-muted'>{}</span>", value, record.shop.platform_id)

    def value_shop(self, value, record):
        return f"{value} ({record.shop.platform_id})"

    def value_amount(self, value):
        return f"{value:.2f}"


class SafeTableExport(TableExport):
    """Every cell goes through `safe_cell`: a shop name like "=HYPERLINK(…)" stays text in Excel."""

    def table_to_dataset(self, table, exclude_columns, dataset_kwargs=None):
        dataset = super().table_to_dataset(table, exclude_columns, dataset_kwargs)
        safe = type(dataset)(title=dataset.title)
        safe.headers = [safe_cell(h) for h in dataset.headers or []]
        for row in dataset:
            safe.append([safe_cell(cell) for cell in row])
        return safe
