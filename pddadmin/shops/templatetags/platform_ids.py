"""How a page writes a platform id as the text of a link to its object.

Links name objects by pk, so any stored id links correctly; only a blank one (stored before the
feed checked ids) would leave a link with nothing to click, and gets a dash instead.
"""

from django import template

register = template.Library()


@register.filter
def link_text(platform_id: str) -> str:
    return platform_id if platform_id.strip() else "—"
