"""Shop scoping for the Django admin: merchant staff see and touch only their own shops' rows.

Use it on every ModelAdmin (and inline) whose rows belong to a shop::

    from pddadmin.shops.admin_scope import ShopListFilter, ShopScopedAdminMixin

    @admin.register(AfterSalesCase)
    class CaseAdmin(ShopScopedAdminMixin, admin.ModelAdmin):
        shop_path = "shop"                      # ORM path from the model to its Shop
        edit_roles = frozenset({"owner", "agent"})   # the default: case handling
        list_filter = [ShopListFilter, "state"]

API (class attributes):

- ``shop_path``: ORM path from the model to its Shop: ``"shop"``, ``"order__shop"``; ``"pk"``
  (or ``""``) for Shop itself.
- ``view_roles``: membership roles that may see rows (default: every role).
- ``edit_roles``: roles that may change rows (default ``{"owner", "agent"}``; settings and
  staff use ``{"owner"}``, i.e. ``EDIT_SETTINGS_ROLES``).
- ``add_roles`` / ``delete_roles``: default to ``edit_roles``.

Behaviour:

- Platform staff (superusers and the ``reviewers`` group, ``selectors.is_platform_staff``) see
  every row; whether they may change, add or delete still follows Django's model permissions
  (superusers have them all), so a reviewer is read-only unless granted more.
- Merchant staff (``is_staff=True`` to log in, no Django model permissions needed) get
  ``get_queryset`` filtered to the shops they are members of, and each ``has_*_permission`` is
  decided by their role in the object's shop (no object: by whether they hold the role in any
  shop). Viewers therefore get read-only pages.
- Another shop's object is a real 404 on change, delete and history URLs (Django's default is a
  redirect with a "doesn't exist" message); missing objects are 404 too, so nothing leaks.
- Foreign-key and many-to-many choices: a relation to Shop offers only the shops where the user
  holds an ``edit_roles`` role; a relation to another shop-scoped model is filtered through that
  model's own admin. Autocomplete goes through the related admin's ``get_queryset`` and so is
  scoped as well. ``ShopListFilter`` lists only the user's shops; for merchants, a plain
  relation name in ``list_filter`` is shown with ``RelatedOnlyFieldListFilter`` (never the whole
  table of another model) and ``shop_path`` itself with ``ShopListFilter``.
- Actions and exports receive the scoped queryset: build exports from the queryset the action
  is given (or from ``get_queryset(request)``), never from ``Model.objects``.
- Service errors: a ``ValidationError`` raised by a service inside ``save_model`` is shown on the
  re-rendered form (nothing saved, the transaction is rolled back); one raised by
  ``delete_model`` / ``delete_queryset`` (including the bulk "delete selected" action, which runs
  all-or-nothing) becomes an error message and nothing is deleted; one raised by any other action
  becomes an error message (wrap the action in ``transaction.atomic`` yourself if it must be
  all-or-nothing). So admins call services and stay declarative.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected as django_delete_selected
from django.contrib.admin.utils import quote
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models, transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from .models import Role, Shop
from .selectors import EDIT_CASES_ROLES, is_platform_staff, shop_roles, visible_to

ALL_ROLES = frozenset(Role.values)
DEFAULT_EDIT_ROLES = EDIT_CASES_ROLES
_SERVICE_ERROR = "_pddadmin_service_error"


def user_shop_roles(request: HttpRequest) -> dict[int, str]:
    """{shop id: role} of the requesting user (read once: see selectors.shop_roles)."""
    return shop_roles(request.user)


def _normalise(path: str) -> str:
    return "" if path in ("", "pk") else path


def shop_id_of(obj: models.Model | None, shop_path: str) -> int | None:
    """Follow `shop_path` on an instance to its shop id without loading the Shop row."""
    if obj is None:
        return None
    path = _normalise(shop_path)
    if not path:
        return obj.pk
    *hops, last = path.split("__")
    target = obj
    for hop in hops:
        target = getattr(target, hop, None)
        if target is None:
            return None
    if hasattr(target, f"{last}_id"):
        return getattr(target, f"{last}_id")
    return getattr(getattr(target, last, None), "pk", None)


class ReadOnlyAdminMixin:
    """First in the bases: nobody adds, edits or deletes these rows here, whatever their role
    (platform data, ledgers, logs: they change only through their services)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ShopListFilter(admin.SimpleListFilter):
    """Filter by shop, offering only the shops the user may see (never every shop's name)."""

    title = _("shop")
    parameter_name = "shop"

    def lookups(self, request, model_admin):
        shops = Shop.objects.only("pk", "name", "platform_id").order_by("platform_id")
        if not is_platform_staff(request.user):
            shops = visible_to(shops, user=request.user, shop_path="pk")
        else:
            shops = list(shops[:201])
            if len(shops) > 200:
                # Thousands of shops make a useless sidebar; platform staff search by shop instead.
                return []
        return [(str(s.pk), str(s)) for s in shops]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        try:
            shop_id = int(value)
        except ValueError:
            return queryset.none()
        path = _normalise(self.shop_path)
        return queryset.filter(**{path or "pk": shop_id})

    def __init__(self, request, params, model, model_admin):
        self.shop_path = getattr(model_admin, "shop_path", "shop")
        super().__init__(request, params, model, model_admin)


class _ScopeMixin:
    shop_path: str = "shop"
    view_roles: frozenset[str] | None = None
    edit_roles: frozenset[str] = DEFAULT_EDIT_ROLES
    add_roles: frozenset[str] | None = None
    delete_roles: frozenset[str] | None = None

    def _roles_for(self, action: str) -> frozenset[str]:
        if action == "view":
            return frozenset(self.view_roles) if self.view_roles is not None else ALL_ROLES
        if action == "add" and self.add_roles is not None:
            return frozenset(self.add_roles)
        if action == "delete" and self.delete_roles is not None:
            return frozenset(self.delete_roles)
        return frozenset(self.edit_roles)

    def _merchant_may(self, request, action: str, shop_id: int | None, any_shop: bool) -> bool:
        roles = user_shop_roles(request)
        allowed = self._roles_for(action)
        if any_shop:
            return any(role in allowed for role in roles.values())
        return roles.get(shop_id) in allowed

    def _scoped(self, request, queryset: QuerySet) -> QuerySet:
        return visible_to(queryset, user=request.user, shop_path=self.shop_path, roles=self._roles_for("view"))

    def _scoped_choices(self, request, db_field, kwargs):
        """Limit relation choices to what the user may pick (edit roles for shops)."""
        if is_platform_staff(request.user) or "queryset" in kwargs:
            return
        related = db_field.related_model
        if related is Shop:
            kwargs["queryset"] = visible_to(Shop.objects.all(), user=request.user, shop_path="pk",
                                            roles=self._roles_for("edit"))
            return
        related_admin = self.admin_site.get_model_admin(related) if self.admin_site.is_registered(related) else None
        if isinstance(related_admin, _ScopeMixin):
            kwargs["queryset"] = related_admin.get_queryset(request)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        self._scoped_choices(request, db_field, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        self._scoped_choices(request, db_field, kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class ShopScopedAdminMixin(_ScopeMixin):
    """Put first in the bases: ``class XAdmin(ShopScopedAdminMixin, admin.ModelAdmin)``."""

    show_full_result_count = False

    # --- rows -------------------------------------------------------------------------------
    def get_queryset(self, request):
        return self._scoped(request, super().get_queryset(request))

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            # Another shop's row and a missing row look the same: a plain 404, never a redirect.
            raise Http404(_("No such object, or it belongs to a shop you are not staff of."))
        return obj

    # --- permissions ------------------------------------------------------------------------
    def has_module_permission(self, request):
        if is_platform_staff(request.user):
            return True
        return self._merchant_may(request, "view", None, any_shop=True)

    def has_view_permission(self, request, obj=None):
        if is_platform_staff(request.user):
            return True
        return self._merchant_may(request, "view", shop_id_of(obj, self.shop_path), any_shop=obj is None)

    def has_change_permission(self, request, obj=None):
        if is_platform_staff(request.user):
            return super().has_change_permission(request, obj)
        return self._merchant_may(request, "change", shop_id_of(obj, self.shop_path), any_shop=obj is None)

    def has_add_permission(self, request):
        if is_platform_staff(request.user):
            return super().has_add_permission(request)
        return self._merchant_may(request, "add", None, any_shop=True)

    def has_delete_permission(self, request, obj=None):
        if is_platform_staff(request.user):
            return super().has_delete_permission(request, obj)
        return self._merchant_may(request, "delete", shop_id_of(obj, self.shop_path), any_shop=obj is None)

    # --- filters ----------------------------------------------------------------------------
    def get_list_filter(self, request):
        filters = list(super().get_list_filter(request))
        if is_platform_staff(request.user):
            return filters
        scoped = []
        for item in filters:
            if isinstance(item, str):
                if _normalise(item) and item == _normalise(self.shop_path):
                    item = ShopListFilter
                elif _is_relation(self.model, item):
                    item = (item, admin.RelatedOnlyFieldListFilter)
            scoped.append(item)
        return scoped

    # --- services' errors -------------------------------------------------------------------
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as error:
            if request.method != "POST" or hasattr(request, _SERVICE_ERROR):
                raise
            # The atomic block around the view rolled everything back; render the same POST
            # again with the service's message attached to the form, so nothing is saved.
            setattr(request, _SERVICE_ERROR, error)
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        error = getattr(request, _SERVICE_ERROR, None)
        if error is None:
            return form

        class ServiceErrorForm(form):
            def clean(self):
                cleaned = super().clean()
                # Field errors go to their field when the form has it, the rest on top.
                by_field = error.message_dict if hasattr(error, "error_dict") else {None: error.messages}
                for field, field_messages in by_field.items():
                    self.add_error(field if field in self.fields else None, field_messages)
                return cleaned

        ServiceErrorForm.__name__ = form.__name__
        return ServiceErrorForm

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except ValidationError as error:
            for message in error.messages:
                self.message_user(request, message, messages.ERROR)
            url = reverse(
                f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
                args=[quote(object_id)],
                current_app=self.admin_site.name,
            )
            return HttpResponseRedirect(url)

    def response_action(self, request, queryset):
        try:
            return super().response_action(request, queryset)
        except ValidationError as error:
            # An action calling a service that refuses: show why instead of a server error.
            for message in error.messages:
                self.message_user(request, message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def get_actions(self, request):
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            _func, name, description = actions["delete_selected"]
            actions["delete_selected"] = (_delete_selected_atomically, name, description)
        return actions


def _delete_selected_atomically(modeladmin, request, queryset):
    """Django's bulk delete, all or nothing: a service refusing one row keeps every row."""
    try:
        with transaction.atomic(using=queryset.db):
            return django_delete_selected(modeladmin, request, queryset)
    except ValidationError as error:
        for message in error.messages:
            modeladmin.message_user(request, message, messages.ERROR)
        return None


_delete_selected_atomically.allowed_permissions = ("delete",)
_delete_selected_atomically.short_description = django_delete_selected.short_description


def _is_relation(model, name: str) -> bool:
    if "__" in name:
        return False
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return bool(field.is_relation)
