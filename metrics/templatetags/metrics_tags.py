"""How the metrics pages write a figure (#18.6), one set for every page and table of them: a rate
with two decimals ("1.13%"), a count or a per-member average without trailing zeros ("4", "1.5"),
money as the money pages write it ("¥1,234.50", compensation's `yuan`), a moment in Shanghai time
as everywhere (`moment`: pddadmin.timefmt.shown). Data attributes and
exports keep the exported figure (`rate_value`: 6 places)."""

from decimal import ROUND_HALF_UP, Decimal

from django import template

from compensation.templatetags.money import yuan
from pddadmin.timefmt import shown

register = template.Library()
register.filter("yuan", yuan)
register.filter("moment", shown)

HUNDRED = Decimal(100)
CENT = Decimal("0.01")


@register.filter
def percent(rate: Decimal | None) -> str:
    """0.011349 → "1.13%" (half up, as the rates are rounded); no rate → "—" (SPEC §5)."""
    if rate is None:
        return "—"
    return f"{(Decimal(rate) * HUNDRED).quantize(CENT, ROUND_HALF_UP)}%"


@register.filter
def figure(value: Decimal | int | None) -> str:
    """A count or an average count: 4 → "4", Decimal("4.000000") → "4", 0.333333 → "0.33",
    12345 → "12,345"; at most two decimals, half up, no trailing zeros; none → "—"."""
    if value is None or value == "":
        return "—"
    text = f"{Decimal(value).quantize(CENT, ROUND_HALF_UP):,}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@register.filter
def rate_value(rate: Decimal | None) -> str:
    """The rate as exported (6 places), for data attributes; empty when there is none."""
    return "" if rate is None else f"{rate:.6f}"
