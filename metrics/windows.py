"""Metric days are calendar days in Asia/Shanghai (SPEC: time zone); the database stores UTC."""

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

WINDOW_DAYS = 30


def local_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def day_start(day: dt.date) -> dt.datetime:
    """00:00 local time of `day` as an aware UTC datetime."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=local_zone()).astimezone(dt.UTC)


@dataclass(frozen=True)
class Window:
    """The 30-day window D-29 … D and the single day D, as half-open UTC intervals."""

    day: dt.date
    start: dt.datetime  # D-29 00:00 local
    day_start: dt.datetime  # D 00:00 local
    end: dt.datetime  # D+1 00:00 local (excluded)


def window_for(day: dt.date) -> Window:
    return Window(
        day=day,
        start=day_start(day - dt.timedelta(days=WINDOW_DAYS - 1)),
        day_start=day_start(day),
        end=day_start(day + dt.timedelta(days=1)),
    )


def yesterday() -> dt.date:
    return timezone.localdate(timezone.now(), local_zone()) - dt.timedelta(days=1)
