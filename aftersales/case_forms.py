"""What every button on a case page posts besides its own fields, and the one place a post is
judged against the case as it is now.

SPEC §2.3: when two people act on one case at once, exactly one wins and the other is told the
case changed and to reload. A page can be stale in two ways, and both must end in that message,
never in a 500 or a second transition:
- stale: the case moved on before the click (another agent agreed, the buyer escalated, a
  reviewer shortened the deadline). The button's own fields were drawn for a state the case has
  left, so they are parsed by the transition's declaration, never by the case's current state,
  and the post is refused before any service runs.
- raced: the case moves on between that check and the service's row lock. The service decides
  under the lock (`expected_state`, or a rule the other click's change now breaks); a refusal
  from a case that meanwhile moved on is reported as "changed, reload", not as the rule.

The admin's case page and the review pages both answer through `submit_case_action`, so the
judgement exists once; the views only turn its outcome into their own response.
"""

import datetime as dt
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext

from .errors import CaseChanged
from .models import AfterSalesCase, State


class SeenForm(forms.Form):
    """The case as the page showed it: its state and the moment of its last change.

    The state is required: a post that does not say what the user saw cannot be judged and is
    treated as stale. The last change catches what the state alone misses: a change that keeps
    the state (a shortened deadline) or comes back to it (refused, then resubmitted).
    """

    expected_state = forms.ChoiceField(choices=State.choices, widget=forms.HiddenInput)
    expected_changed_at = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", False)  # one copy per button on a page: no repeated ids
        super().__init__(*args, **kwargs)

    @classmethod
    def for_case(cls, case: AfterSalesCase) -> "SeenForm":
        return cls(initial=cls.for_case_initial(case))

    @staticmethod
    def for_case_initial(case: AfterSalesCase) -> dict[str, str]:
        """The values the form carries for `case` (the desk writes them into each row's buttons)."""
        return {"expected_state": case.state, "expected_changed_at": case.changed_at.isoformat()}

    def clean_expected_changed_at(self) -> dt.datetime | None:
        # Never shown: a page state that cannot be read is answered with the reload message.
        text = self.cleaned_data["expected_changed_at"]
        if not text:
            return None
        try:
            value = dt.datetime.fromisoformat(text)
        except ValueError:
            raise ValidationError("unreadable", code="invalid") from None
        if value.tzinfo is None:
            raise ValidationError("no offset", code="invalid")
        return value


@dataclass(frozen=True)
class Seen:
    """The case as the page showed it, for the service to check again under the row lock."""

    state: str
    changed_at: dt.datetime | None


class Outcome(enum.Enum):
    DONE = "done"
    CHANGED = "changed"  # the case moved on since the page: reload
    INVALID = "invalid"  # the button's own fields do not validate: the form carries the errors
    REFUSED = "refused"  # the service refused on a case that had not moved on: `error` says why


@dataclass(frozen=True)
class CaseActionResult:
    outcome: Outcome
    case: AfterSalesCase
    error: ValidationError | None = None

    @property
    def reason(self) -> str:
        """What the user is told when nothing was done."""
        if self.outcome is Outcome.CHANGED:
            return changed_message(self.case)
        if self.error is not None:
            return "; ".join(self.error.messages)
        return ""

    def report(self, request: HttpRequest, done: str) -> None:
        """The outcome as one message on the next page."""
        if self.outcome is Outcome.DONE:
            messages.success(request, done)
        else:
            messages.error(request, self.reason)


def changed_message(case: AfterSalesCase) -> str:
    # The services' wording for CaseChanged, so the user reads one sentence whichever check caught it.
    return gettext("case %(case)s changed (now %(state)s), please reload") % {
        "case": case.platform_id,
        "state": case.get_state_display(),
    }


def _moved_on(case: AfterSalesCase, seen: Mapping[str, Any]) -> bool:
    if case.state != seen["expected_state"]:
        return True
    return seen["expected_changed_at"] is not None and case.changed_at != seen["expected_changed_at"]


def submit_case_action(
    *,
    case: AfterSalesCase,
    data: Mapping[str, Any],
    form: forms.Form | None,
    act: Callable[[dict[str, Any], Seen], Any],
) -> CaseActionResult:
    """Judge one button's post (`data`) against `case` as just read, and act if the page was current.

    `form` holds the button's own fields, built for the transition the button names (not for the
    case's current state), or None for a plain click. `act(cleaned_data, seen)` calls the
    service with what the page showed; it may raise any ValidationError (CaseRuleError, CaseChanged, a claim error).
    """
    seen = SeenForm(data)
    if not seen.is_valid() or _moved_on(case, seen.cleaned_data):
        return CaseActionResult(Outcome.CHANGED, case)
    if form is not None and not form.is_valid():
        return CaseActionResult(Outcome.INVALID, case)
    try:
        act(
            form.cleaned_data if form is not None else {},
            Seen(seen.cleaned_data["expected_state"], seen.cleaned_data["expected_changed_at"]),
        )
    except ValidationError as error:
        # The service decided under the row lock. If the case moved on meanwhile, another click
        # won the race: its rule message ("already refused", "does not shorten the current
        # deadline") would only confuse; the user needs the reload.
        current = AfterSalesCase.objects.get(pk=case.pk)
        if isinstance(error, CaseChanged) or _moved_on(current, seen.cleaned_data):
            return CaseActionResult(Outcome.CHANGED, current)
        return CaseActionResult(Outcome.REFUSED, current, error)
    return CaseActionResult(Outcome.DONE, case)
