"""Platform review (平台介入, SPEC §4): claiming cases off the intervention queue and ruling them.

Claims are work assignment, not case state: they write `claimed_by`/`claimed_at` only, never
`state` and never `changed_at` (a claim must not make the feed reject a later, genuine event).

Claim policy (decided here): one reviewer per case. Only the claimer may release a claimed case,
and only the claimer may rule it: that rule is the domain's (`aftersales` `case_rule` refuses a
claimed case to anyone else, the admin's case page and the feed included), so it holds wherever a
ruling comes from. Ruling an unclaimed case from the queue claims it in the same transaction.
"Next case" hands a reviewer their own unruled claim before any new one: nobody holds two cases
through it. Superusers count as reviewers (`is_platform_staff`).
"""

import datetime as dt

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from aftersales.errors import CaseClaimError
from aftersales.models import AfterSalesCase, State
from aftersales.services.cases import case_rule, case_shorten_deadline
from pddadmin.shops.selectors import is_platform_staff

# On SQLite (no row locks) a reviewer who loses the race for a candidate simply tries the next
# one; this many lost races in a row means the queue is being drained faster than we can read it.
NEXT_CASE_ATTEMPTS = 20


def _check_reviewer(user: AbstractBaseUser) -> None:
    if not is_platform_staff(user):
        raise PermissionDenied(_("only platform reviewers may work on the intervention queue"))


def _claimable() -> QuerySet[AfterSalesCase]:
    return AfterSalesCase.objects.filter(state=State.UNDER_INTERVENTION, claimed_by__isnull=True)


def case_claim(*, case: AfterSalesCase, reviewer: AbstractBaseUser, at: dt.datetime | None = None) -> AfterSalesCase:
    """Claim `case` for `reviewer`. Claiming one's own case again is a no-op."""
    _check_reviewer(reviewer)
    # The conditional UPDATE is the arbiter: of two reviewers claiming at once exactly one matches.
    _claimable().filter(pk=case.pk).update(claimed_by=reviewer, claimed_at=at or timezone.now())
    current = AfterSalesCase.objects.select_related("claimed_by").get(pk=case.pk)
    if current.state != State.UNDER_INTERVENTION:
        raise CaseClaimError(
            _("Case %(case)s is no longer under intervention (now: %(state)s). Please reload.")
            % {"case": current.platform_id, "state": current.get_state_display()}
        )
    if current.claimed_by_id != reviewer.pk:
        raise CaseClaimError(
            _("Case %(case)s is already claimed by %(user)s.")
            % {"case": current.platform_id, "user": current.claimed_by}
        )
    return current


def case_release(*, case: AfterSalesCase, reviewer: AbstractBaseUser) -> AfterSalesCase:
    """Give a claimed case back to the queue. Only its claimer may."""
    _check_reviewer(reviewer)
    released = AfterSalesCase.objects.filter(pk=case.pk, state=State.UNDER_INTERVENTION, claimed_by=reviewer).update(
        claimed_by=None, claimed_at=None
    )
    current = AfterSalesCase.objects.get(pk=case.pk)
    if not released:
        raise CaseClaimError(_("Case %(case)s is not claimed by you.") % {"case": current.platform_id})
    return current


def case_claim_next(
    *, reviewer: AbstractBaseUser, filters: Q | None = None, at: dt.datetime | None = None
) -> AfterSalesCase | None:
    """The reviewer's own unruled claim (oldest first, whatever `filters` say) if there is one; else
    claim the oldest unclaimed case (escalated_at, id) matching `filters`; None when there is none.
    A newly claimed case has `claimed_at == at`; an older claim handed back keeps its own.

    Many reviewers pressing "next case" at once each get a different case and nobody an error:
    on PostgreSQL the candidate row is locked with SKIP LOCKED, so a concurrent caller passes over
    it to the next one instead of waiting or colliding; elsewhere the conditional UPDATE decides
    and the loser moves on to the next candidate. One reviewer pressing it many times at once
    (double clicks, several tabs) ends with one claim: their presses queue on their user row, so
    each after the first finds the claim the first one took.
    """
    _check_reviewer(reviewer)
    at = at or timezone.now()
    candidates = _claimable()
    if filters is not None:
        candidates = candidates.filter(filters)
    candidates = candidates.order_by("escalated_at", "id")
    skip_locked = connection.features.has_select_for_update_skip_locked
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=reviewer.pk).values_list("pk", flat=True).get()
        own = _own_claims(reviewer).first()
        if own is not None:
            return own
        for _attempt in range(NEXT_CASE_ATTEMPTS):
            if skip_locked:
                # of=self: filters may join shops/orders, whose rows we must not lock.
                pk = candidates.select_for_update(skip_locked=True, of=("self",)).values_list("pk", flat=True).first()
            else:
                pk = candidates.values_list("pk", flat=True).first()
            if pk is None:
                return None
            if _claimable().filter(pk=pk).update(claimed_by=reviewer, claimed_at=at) == 1:
                return _with_relations().get(pk=pk)
    raise CaseClaimError(_("The queue is very busy right now; please press “Next case” again."))


def _with_relations() -> QuerySet[AfterSalesCase]:
    return AfterSalesCase.objects.select_related("shop", "order", "claimed_by")


def _own_claims(reviewer: AbstractBaseUser) -> QuerySet[AfterSalesCase]:
    return _with_relations().filter(state=State.UNDER_INTERVENTION, claimed_by=reviewer).order_by("escalated_at", "id")


def case_review_rule(
    *,
    case: AfterSalesCase,
    reviewer: AbstractBaseUser,
    liable: str,
    note: str,
    at: dt.datetime | None = None,
) -> AfterSalesCase:
    """A reviewer's ruling from the queue: claim check, then the one `case_rule` the feed uses too."""
    with transaction.atomic():
        # Claims the case if nobody has; refuses when another reviewer holds it or it moved on.
        current = case_claim(case=case, reviewer=reviewer, at=at)
        return case_rule(
            case=current, liable=liable, note=note, actor=reviewer, at=at, expected_state=State.UNDER_INTERVENTION
        )


def case_review_shorten_deadline(
    *,
    case: AfterSalesCase,
    reviewer: AbstractBaseUser,
    due_at: dt.datetime,
    at: dt.datetime | None = None,
    expected_changed_at: dt.datetime | None = None,
) -> AfterSalesCase:
    """SPEC §2.3: a reviewer shortens a pending merchant deadline (never below 24 h; `case_shorten_deadline`)."""
    _check_reviewer(reviewer)
    return case_shorten_deadline(
        case=case, due_at=due_at, actor=reviewer, at=at, expected_changed_at=expected_changed_at
    )
