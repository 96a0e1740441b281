"""The open API's own tables: the shops' API keys, the log of every call, and the answers kept
for idempotent retries."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.models import AbstractAPIKey, BaseAPIKeyManager

from pddadmin.append_only import AppendOnlyModel
from pddadmin.shops.models import Role, Shop


class KeyRole(models.TextChoices):
    # SPEC §10: a key carries one role of the shop's staff, never the owner's.
    AGENT = Role.AGENT.value, Role.AGENT.label
    VIEWER = Role.VIEWER.value, Role.VIEWER.label


class ShopApiKey(AbstractAPIKey):
    """A shop's API key (djangorestframework-api-key: only a prefix and a SHA-512 hash are kept;
    the key itself is shown once, when it is created).

    Revoking is for good (the library refuses to un-revoke); `revoked_at`/`revoked_by` say when
    and by whom. `last_used_at` is refreshed at most once a minute (`api.auth`), so a busy ERP
    does not turn every read into a write on this row."""

    objects = BaseAPIKeyManager()

    # The library's columns, with labels the back-office can translate.
    prefix = models.CharField(_("key prefix"), max_length=8, unique=True, editable=False)
    created = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    name = models.CharField(_("name"), max_length=50, help_text=_("What the key is for, e.g. the ERP's name."))
    revoked = models.BooleanField(_("revoked"), blank=True, default=False)

    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="api_keys", verbose_name=_("shop"))
    role = models.CharField(_("role"), max_length=10, choices=KeyRole.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("created by")
    )
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("revoked by"),
    )

    class Meta(AbstractAPIKey.Meta):
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        indexes = [models.Index(fields=["shop", "-created"], name="apikey_shop_created")]


class ApiCall(AppendOnlyModel):
    """One row per call made with a key (SPEC §10: every call is logged with its key), refused
    ones included. Append-only and kept: it is the audit trail of what an ERP did; a call without
    a usable key has no key to log it under and is not logged (nobody can flood this table)."""

    key = models.ForeignKey(ShopApiKey, on_delete=models.PROTECT, related_name="calls", verbose_name=_("API key"))
    method = models.CharField(_("method"), max_length=10)
    path = models.CharField(_("path"), max_length=300)
    status = models.PositiveSmallIntegerField(_("status"))
    idempotency_key = models.CharField(_("idempotency key"), max_length=255, blank=True)
    at = models.DateTimeField(_("time"))
    duration_ms = models.FloatField(_("duration (ms)"))

    class Meta:
        verbose_name = _("API call")
        verbose_name_plural = _("API calls")
        indexes = [models.Index(fields=["key", "at"], name="apicall_key_at")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.status}"


class IdempotentRequest(models.Model):
    """The first answer to a write under one Idempotency-Key of one API key.

    The row is inserted first, inside the write's transaction: the unique constraint makes a
    second request with the same key wait for the first to commit and then find its answer, so a
    write applies once however many copies arrive at once. Rows older than API_IDEMPOTENCY_TTL
    are purged lazily (`api.idempotency`)."""

    api_key = models.ForeignKey(ShopApiKey, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=300)
    created_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True)
    content_type = models.CharField(max_length=100, blank=True)
    body = models.JSONField(null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["api_key", "key"], name="one_answer_per_idempotency_key")]
        indexes = [models.Index(fields=["api_key", "created_at"], name="idempotency_key_created")]

    def __str__(self) -> str:
        return f"{self.key}: {self.method} {self.path}"
