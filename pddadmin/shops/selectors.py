"""Who may see and do what in which shop. Every scoped list and page asks these."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from .models import Role, Shop, ShopMembership

REVIEWERS_GROUP = "reviewers"
EDIT_CASES_ROLES = frozenset({Role.OWNER, Role.AGENT})
EDIT_SETTINGS_ROLES = frozenset({Role.OWNER})


def is_reviewer(user: AbstractBaseUser | AnonymousUser) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    cached = getattr(user, "_is_reviewer", None)
    if cached is None:
        cached = user._is_reviewer = user.groups.filter(name=REVIEWERS_GROUP).exists()
    return cached


def is_platform_staff(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Platform side (reviewers, superusers): sees every shop."""
    return is_reviewer(user)


def shop_ids_for(user: AbstractBaseUser | AnonymousUser, roles: frozenset[str] | None = None) -> QuerySet:
    """Ids of the shops the user is staff of (with one of `roles`, if given), as a subquery."""
    memberships = ShopMembership.objects.filter(user_id=getattr(user, "pk", None))
    if roles is not None:
        memberships = memberships.filter(role__in=roles)
    return memberships.values("shop_id")


def shops_for(user: AbstractBaseUser | AnonymousUser, roles: frozenset[str] | None = None) -> QuerySet[Shop]:
    if is_platform_staff(user) and roles is None:
        return Shop.objects.all()
    return Shop.objects.filter(pk__in=shop_ids_for(user, roles))


def shop_roles(user: AbstractBaseUser | AnonymousUser) -> dict[int, str]:
    """{shop id: role} of the user, read once and kept on the user object (one request, one
    job): a page or a bulk action asks for many cases and shops."""
    if not user.is_authenticated or not user.is_active:
        return {}
    cached = getattr(user, "_shop_roles", None)
    if cached is None:
        cached = user._shop_roles = dict(
            ShopMembership.objects.filter(user_id=user.pk).values_list("shop_id", "role")
        )
    return cached


def role_in(user: AbstractBaseUser | AnonymousUser, shop_id: int) -> str | None:
    return shop_roles(user).get(shop_id)
