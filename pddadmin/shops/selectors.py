"""Who may see and do what in which shop. Every scoped list and page asks these."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from .models import Role, Shop, ShopMembership

REVIEWERS_GROUP = "reviewers"
EDIT_CASES_ROLES = frozenset({Role.OWNER, Role.AGENT})
EDIT_SETTINGS_ROLES = frozenset({Role.OWNER})


def _signed_in(user: AbstractBaseUser | AnonymousUser) -> bool:
    return bool(user.is_authenticated and user.is_active)


def is_platform_admin(user: AbstractBaseUser | AnonymousUser) -> bool:
    """The platform's administrators: active superusers. They alone run the platform's machinery
    (the jobs page, `/jobs/`, and the job runs in the admin)."""
    return _signed_in(user) and user.is_superuser


def is_platform_staff(user: AbstractBaseUser | AnonymousUser) -> bool:
    """The platform side: platform admins and the reviewers group. Sees every shop, judges cases
    and warranty reports. The one test of it; nothing else asks for the group or `is_superuser`."""
    if not _signed_in(user):
        return False
    if is_platform_admin(user):
        return True
    cached = getattr(user, "_is_platform_staff", None)
    if cached is None:
        cached = user._is_platform_staff = user.groups.filter(name=REVIEWERS_GROUP).exists()
    return cached


def _shop_ids(user: AbstractBaseUser | AnonymousUser, roles: frozenset[str] | None = None) -> QuerySet:
    """Ids of the shops the user is staff of (with one of `roles`, if given), as a subquery."""
    memberships = ShopMembership.objects.filter(user_id=getattr(user, "pk", None))
    if roles is not None:
        memberships = memberships.filter(role__in=roles)
    return memberships.values("shop_id")


def visible_to(
    queryset: QuerySet, *, user: AbstractBaseUser | AnonymousUser, shop_path: str = "shop",
    roles: frozenset[str] | None = None,
) -> QuerySet:
    """Who may see what, written once: `queryset` limited to the rows of the shops where `user`
    is staff (holding one of `roles`, if given); platform staff see every row.

    `shop_path` is the ORM path from the rows to their Shop ("shop", "order__shop"); "pk" or ""
    for a queryset of shops. The admin's scoping, the compensation pages and the metrics pages
    all come through here."""
    if is_platform_staff(user):
        return queryset
    path = "" if shop_path in ("", "pk") else shop_path
    return queryset.filter(**{f"{path}__in" if path else "pk__in": _shop_ids(user, roles)})


def shops_for(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Shop]:
    """The shops `user` may see (platform staff: every shop)."""
    return visible_to(Shop.objects.all(), user=user, shop_path="pk")


def shop_roles(user: AbstractBaseUser | AnonymousUser) -> dict[int, str]:
    """{shop id: role} of the user, read once and kept on the user object (one request, one
    job): a page or a bulk action asks for many cases and shops."""
    if not _signed_in(user):
        return {}
    cached = getattr(user, "_shop_roles", None)
    if cached is None:
        cached = user._shop_roles = dict(
            ShopMembership.objects.filter(user_id=user.pk).values_list("shop_id", "role")
        )
    return cached


def role_in(user: AbstractBaseUser | AnonymousUser, shop_id: int) -> str | None:
    return shop_roles(user).get(shop_id)


def handles_cases(user: AbstractBaseUser | AnonymousUser | None, shop_id: int) -> bool:
    """Owner or agent of the shop: handles its after-sales cases and warranty reports."""
    return user is not None and role_in(user, shop_id) in EDIT_CASES_ROLES

