"""The case log (SPEC §2.3): one immutable row per transition."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from pddadmin.append_only import AppendOnlyModel

from .cases import AfterSalesCase, transition_labels
from .choices import Actor, State


class CaseTransition(AppendOnlyModel):
    """Immutable log row per transition: the audit trail and the source of every metric."""

    # No index of its own: transition_case_at (case, at) leads with it and serves every look-up
    # by case (plans in bench/results/process_deadlines.md).
    case = models.ForeignKey(
        AfterSalesCase, verbose_name=_("case"), on_delete=models.PROTECT, related_name="transitions", db_index=False
    )
    transition = models.CharField(_("transition"), max_length=32)
    from_state = models.CharField(_("from"), max_length=32, choices=State.choices, blank=True)
    to_state = models.CharField(_("to"), max_length=32, choices=State.choices)
    actor_kind = models.CharField(_("actor"), max_length=16, choices=Actor.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("actor"), on_delete=models.PROTECT, null=True, blank=True
    )
    at = models.DateTimeField(_("time"))
    note = models.TextField(_("note"), blank=True)
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("case transition")
        verbose_name_plural = _("case transitions")
        ordering = ["case", "at", "id"]
        indexes = [
            models.Index(fields=["case", "at"], name="transition_case_at"),
            # A day's rows of one kind of actor, with their cases (the desk's "handled today").
            models.Index(fields=["actor_kind", "at", "case"], name="transition_actor_at"),
        ]

    def __str__(self) -> str:
        return f"{self.case_id}: {self.from_state or '-'} → {self.to_state}"

    @property
    def label(self) -> str:
        """The transition's name as staff read it (its button label), from the FSM declaration."""
        return transition_labels().get(self.transition, self.transition)
