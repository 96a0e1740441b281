"""The jobs page's summaries in the reader's language (#18.3).

A run's summary is its command's last output line, in English on purpose: scripts and logs read
it. The page says the known lines again from their figures; a line it does not know (an error, a
command's new wording) is shown as it is.
"""

import re

from django import template
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from aftersales.models import transition_labels
from compensation.models import ChargeKind

register = template.Library()

_NUMBER = r"[\d.]+"
_DEADLINES = re.compile(
    rf"^process_deadlines: (?P<cases>\d+) cases moved at their deadlines up to (?P<at>.+?) \((?P<moves>.*?)\)"
    rf" in (?P<batches>\d+) batches, (?P<seconds>{_NUMBER})s; (?P<charges>\d+) automatic charges"
    rf" \((?P<kinds>.*?)\) in (?P<charge_seconds>{_NUMBER})s$"
)
_PAYOUTS = re.compile(
    rf"^issue_payouts: (?P<paid>\d+) payouts, (?P<amount>{_NUMBER}) in coupons \(deposit (?P<deposit>{_NUMBER}),"
    rf" balance (?P<balance>{_NUMBER}), arrears (?P<arrears>{_NUMBER})\) in (?P<seconds>{_NUMBER})s$"
)
_METRICS = re.compile(
    rf"^compute_metrics: (?P<day>\S+): (?P<shops>\d+) shops, (?P<goods>\d+) goods \((?P<flagged>\d+) flagged,"
    rf" (?P<restricted>\d+) restricted\) in (?P<seconds>{_NUMBER}) s$"
)


def _counts(text: str, labels: dict[str, str]) -> str:
    """ "2 auto_agree, 1 expire" in words; "nothing due" as such."""
    if text == "nothing due":
        return _("nothing due")
    parts = []
    for part in text.split(", "):
        count, _space, name = part.partition(" ")
        parts.append(f"{labels.get(name, name)} {count}")
    return "、".join(parts)


@register.filter
def summary_shown(summary: str) -> str:
    if (get_language() or "").startswith("en"):
        return summary  # the command's own line is English already
    if match := _DEADLINES.match(summary):
        kinds = {str(k): str(label) for k, label in ChargeKind.choices}
        return _(
            "%(cases)s cases moved at their deadlines up to %(at)s (%(moves)s), %(batches)s batches, %(seconds)s s; "
            "%(charges)s automatic charges (%(kinds)s), %(charge_seconds)s s"
        ) % {
            **match.groupdict(),
            "moves": _counts(match["moves"], transition_labels()),
            "kinds": _counts(match["kinds"], kinds),
        }
    if match := _PAYOUTS.match(summary):
        return (
            _(
                "%(paid)s payouts, ¥%(amount)s in coupons (deposit ¥%(deposit)s, balance ¥%(balance)s, "
                "arrears ¥%(arrears)s), %(seconds)s s"
            )
            % match.groupdict()
        )
    if match := _METRICS.match(summary):
        return (
            _(
                "%(day)s: %(shops)s shops, %(goods)s goods (%(flagged)s flagged, %(restricted)s restricted), "
                "%(seconds)s s"
            )
            % match.groupdict()
        )
    return summary
