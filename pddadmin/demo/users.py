"""Demo logins: an owner and an agent per shop, two reviewers, one platform admin.

With DEBUG on they share the documented DEMO_PASSWORD, so `make run` works as the README says.
With DEBUG off the demo may face other people, and a password printed in a public README would
open its superuser: seed_demo then gives each new login its own random password, which it prints
once; only the hash is stored. A login that exists is left as it is, so running seed_demo again
never resets a password someone set (nor the login's flags, groups or shop).
"""

import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import AbstractBaseUser, Group
from django.db import transaction
from django.urls import NoReverseMatch, reverse

from pddadmin.shops.models import Role, Shop, ShopMembership
from pddadmin.shops.selectors import REVIEWERS_GROUP

DEMO_PASSWORD = "pdd-demo-2026"
RANDOM_PASSWORD_BYTES = 12  # 16 URL-safe characters


@dataclass(frozen=True)
class DemoLogin:
    username: str
    what: str
    # The password this call gave the login, to be shown once; None when the login existed.
    password: str | None
    home: str = ""  # the path of the role's first page, printed next to the login


def merchant_home() -> str:
    """Merchant staff start at the after-sales desk; before the desk existed, at the case list."""
    try:
        return reverse("aftersales_desk:desk")
    except NoReverseMatch:
        return reverse("admin:aftersales_aftersalescase_changelist")


def role_homes() -> dict[str, str]:
    """Each demo role's home page (#18.9): where its work is, not the admin index for everyone."""
    return {
        Role.OWNER: merchant_home(),
        Role.AGENT: merchant_home(),
        Role.VIEWER: merchant_home(),
        "reviewer": reverse("review:queue"),
        "admin": reverse("admin:index"),
    }


@transaction.atomic
def ensure_demo_users(*, password: str | None = DEMO_PASSWORD) -> list[DemoLogin]:
    """Create the demo logins that are missing: with `password`, or with None a random password
    each. Returns every demo login, new or not."""
    User = get_user_model()
    reviewers = Group.objects.get_or_create(name=REVIEWERS_GROUP)[0]
    # One hash for a shared password: the hasher is slow on purpose, and eleven of them add seconds.
    shared_hash = make_password(password) if password else None
    logins: list[DemoLogin] = []
    homes = role_homes()

    def create(username: str, what: str, role: str, **flags) -> AbstractBaseUser | None:
        """The login created now, or None when it exists."""
        if User.objects.filter(username=username).exists():
            logins.append(DemoLogin(username, what, None, homes[role]))
            return None
        plain = password or secrets.token_urlsafe(RANDOM_PASSWORD_BYTES)
        hashed = shared_hash or make_password(plain)
        # get_or_create: another seed_demo running at once may have created it since the check.
        account, created = User.objects.get_or_create(
            username=username, defaults={"is_staff": True, "is_active": True, "password": hashed, **flags}
        )
        logins.append(DemoLogin(username, what, plain if created else None, homes[role]))
        return account if created else None

    for n, shop in enumerate(Shop.objects.filter(platform_id__startswith="S100").order_by("platform_id"), 1):
        for role in (Role.OWNER, Role.AGENT):
            if account := create(f"{role}{n}", f"{role} of {shop.name} ({shop.platform_id})", role):
                ShopMembership.objects.create(shop=shop, user=account, role=role)
    for n in (1, 2):
        if account := create(f"reviewer{n}", "platform reviewer", "reviewer"):
            account.groups.add(reviewers)
    create("admin", "platform administrator", "admin", is_superuser=True)
    return logins
