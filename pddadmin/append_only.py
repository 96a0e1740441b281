"""Append-only tables: rows that explain afterwards what happened (the case log, the ledger, the
violation log, refunds, payouts) are written once and never changed or removed.

`AppendOnlyModel` refuses, with `AppendOnlyError`, every way the ORM changes or removes rows:
saving a row that already exists, deleting a row, and update(), delete() and bulk_update() on
its querysets and related managers. Inserting stays open (save() of a new row, create(),
bulk_create()). What is not the ORM's (the test database's flush and truncation, a migration's
SQL) is not stopped here; a parent row that a log belongs to is protected by the log's foreign key
(on_delete=PROTECT), since a cascade deletes without asking this queryset.
"""

from django.db import models


class AppendOnlyError(ValueError):
    """A change or removal of a row of an append-only table."""

    def __init__(self, model: type[models.Model], what: str):
        super().__init__(f"{model._meta.verbose_name} rows are append-only: {what} refused")


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError(self.model, "update")

    def delete(self):
        raise AppendOnlyError(self.model, "delete")

    def bulk_update(self, objs, fields, batch_size=None):
        raise AppendOnlyError(self.model, "update")

    def update_or_create(self, defaults=None, create_defaults=None, **kwargs):
        raise AppendOnlyError(self.model, "update")


class AppendOnlyModel(models.Model):
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        # Every append-only table has an automatic primary key: a row with one exists already.
        if self.pk is not None:
            raise AppendOnlyError(type(self), "save of an existing row")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(type(self), "delete")
