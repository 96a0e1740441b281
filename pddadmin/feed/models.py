from django.db import models
from django.utils.translation import gettext_lazy as _


class ImportedEvent(models.Model):
    """One row per feed event seen, applied or rejected: an id seen before is skipped, which is
    what makes re-importing a file change nothing (SPEC §8)."""

    # A plain unique constraint (no extra LIKE index on PostgreSQL); the importer's
    # INSERT … ON CONFLICT (event_id) relies on it.
    event_id = models.CharField(_("event id"), max_length=128)
    type = models.CharField(_("type"), max_length=64)
    at = models.DateTimeField(_("event time"))
    imported_at = models.DateTimeField(_("imported at"), auto_now_add=True)
    # Empty for an applied event; for a rejected one, the reason the importer printed.
    rejection = models.CharField(_("rejected because"), max_length=500, blank=True, db_default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event_id"], name="imported_event_id_unique")]
        verbose_name = _("imported event")
        verbose_name_plural = _("imported events")

    def __str__(self) -> str:
        return f"{self.event_id} ({self.type})"
