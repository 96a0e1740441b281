from decimal import Decimal

from django import template

register = template.Library()

HUNDRED = Decimal(100)


@register.filter
def percent(rate: Decimal | None) -> str:
    """0.333333 → "33.3333%" (the exact 6-place rate as a percentage); no rate → "—" (SPEC §5)."""
    if rate is None:
        return "—"
    return f"{rate * HUNDRED:.4f}%"


@register.filter
def rate_value(rate: Decimal | None) -> str:
    """The rate as exported (6 places), for data attributes; empty when there is none."""
    return "" if rate is None else f"{rate:.6f}"
