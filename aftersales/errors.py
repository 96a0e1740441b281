"""Errors the case services raise. All are ValidationErrors, so the admin shows them as
messages and the feed importer turns them into `line N: <reason>` rejections."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _


class CaseRuleError(ValidationError):
    """A transition the rules of SPEC §2 refuse; the message says which rule and why."""


class CaseChanged(CaseRuleError):
    """Someone else changed the case since the user looked at it."""

    def __init__(self, message=None, *args, **kwargs):
        super().__init__(message or _("this case changed, please reload"), *args, **kwargs)


class CasePermissionDenied(CaseRuleError):
    """The acting user may not take this transition on this case."""


class CaseClaimError(CaseRuleError):
    """A reviewer's claim stands in the way (SPEC §4, one reviewer per case): the case is claimed by
    someone else, or cannot be claimed or given back. The message says why, for the reviewer."""
