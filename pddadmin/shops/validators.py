"""Phone numbers as the platform accepts them for the after-sales hotline and return addresses
(SPEC §3): a return address takes a mobile or a landline, the hotline also a 400/800 number."""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# Mainland mobile: 11 digits starting 1[3-9]. Landline: area code 0xx or 0xxx, a 7-8 digit
# number, optional extension; separators "-" or a space, area code optionally in brackets.
# ASCII digits only: `\d` alone would also take full-width or Arabic-Indic digits.
MOBILE_RE = re.compile(r"^1[3-9]\d{9}$", re.ASCII)
LANDLINE_RE = re.compile(r"^(?:\(0\d{2,3}\)|0\d{2,3})[- ]?[1-9]\d{6,7}(?:(?:-|转|ext\.?|#)\d{1,6})?$", re.ASCII)
# National service number (SPEC §3), for the hotline only: 400 or 800 and 7 more digits, written
# together (4008208820) or grouped 3-3-4 (400-820-8820). A return address names a receiver, whose
# phone is a mobile or a landline.
SERVICE_RE = re.compile(r"^[48]00(?:\d{7}|-\d{3}-\d{4})$", re.ASCII)


def normalize_phone(value: str) -> str:
    return (value or "").strip().replace("（", "(").replace("）", ")")


def validate_phone(value: str, label: str | None = None) -> None:
    phone = normalize_phone(value)
    if MOBILE_RE.match(phone) or LANDLINE_RE.match(phone):
        return
    raise ValidationError(
        _(
            "%(label)s “%(value)s” is not a valid phone number: use a mainland mobile number "
            "(11 digits starting 13–19) or a landline with area code, e.g. 0571-88886666."
        ),
        code="invalid_phone",
        params={"value": value, "label": label or _("phone")},
    )


def validate_hotline(value: str) -> None:
    phone = normalize_phone(value)
    if MOBILE_RE.match(phone) or LANDLINE_RE.match(phone) or SERVICE_RE.match(phone):
        return
    raise ValidationError(
        _(
            "%(label)s “%(value)s” is not a valid phone number: use a mainland mobile number "
            "(11 digits starting 13–19), a landline with area code, e.g. 0571-88886666, or a "
            "400/800 service number, e.g. 400-820-8820."
        ),
        code="invalid_phone",
        params={"value": value, "label": _("hotline")},
    )
