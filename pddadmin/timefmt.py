"""How a moment reads to a person: in the platform's time (Asia/Shanghai), one format everywhere
(2026-12-03 02:29), the same as the pages' DATETIME_FORMAT (pddadmin/formats/). Messages that
compare two moments (an event older than the last change) show the seconds too, since the two
may fall in one minute. Files for programs (SPEC §9 exports, the feed) keep ISO-8601 with offset.
"""

import datetime as dt

from django.utils import timezone

MINUTES = "%Y-%m-%d %H:%M"
SECONDS = "%Y-%m-%d %H:%M:%S"


def shown(value: dt.datetime | None, *, seconds: bool = False) -> str:
    """`value` in Asia/Shanghai as people read it; "-" for no moment."""
    if value is None:
        return "-"
    return timezone.localtime(value).strftime(SECONDS if seconds else MINUTES)
