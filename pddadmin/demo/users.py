"""Demo logins: an owner and an agent per shop, two reviewers, one platform admin."""

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group

from pddadmin.shops.models import Role, Shop, ShopMembership
from pddadmin.shops.selectors import REVIEWERS_GROUP

DEMO_PASSWORD = "pdd-demo-2026"


def ensure_demo_users() -> list[tuple[str, str]]:
    """Create (or reset) the demo users; returns (username, what they are) pairs."""
    User = get_user_model()
    reviewers = Group.objects.get_or_create(name=REVIEWERS_GROUP)[0]
    logins: list[tuple[str, str]] = []
    # One hash for all: the password hasher is slow on purpose, and eleven of them add seconds.
    password = make_password(DEMO_PASSWORD)

    def user(username: str, **flags) -> object:
        account, _ = User.objects.update_or_create(
            username=username, defaults={"is_staff": True, "is_active": True, "password": password, **flags}
        )
        return account

    for n, shop in enumerate(Shop.objects.filter(platform_id__startswith="S100").order_by("platform_id"), 1):
        for role in (Role.OWNER, Role.AGENT):
            account = user(f"{role}{n}")
            ShopMembership.objects.update_or_create(shop=shop, user=account, defaults={"role": role})
            logins.append((account.username, f"{role} of {shop.name} ({shop.platform_id})"))
    for n in (1, 2):
        user(f"reviewer{n}").groups.add(reviewers)
        logins.append((f"reviewer{n}", "platform reviewer"))
    user("admin", is_superuser=True)
    logins.append(("admin", "platform administrator"))
    return logins
