"""The case page's deadline label (aftersales.selectors.deadline_meaning) for its template."""

from django import template

from aftersales.selectors import deadline_meaning

register = template.Library()


@register.filter
def deadline_label(case) -> str:
    return deadline_meaning(case)
