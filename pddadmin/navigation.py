"""The one navigation of every page, admin and product alike: which pages each role has.

Each entry names its page by URL name and says whom it is for. Who is who is asked of the
permission helpers in `pddadmin.shops.selectors`, here and nowhere else in the navigation; an
admin page is offered only when its ModelAdmin lets the user in as well, so the menu never
offers a page that answers 403. Like `pddadmin/urls.py` this module wires every app together,
but by URL name only: it imports none of them.

Rendered by templates/pddadmin/_navigation.html (the header of templates/admin/base_site.html,
which every page extends) and the breadcrumbs of templates/base.html, through the
`navigation` context processor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from pddadmin.shops.selectors import is_platform_admin, is_platform_staff, shop_roles

User = AbstractBaseUser | AnonymousUser
Audience = Callable[[User], bool]


def merchant_staff(user: User) -> bool:
    """Staff of at least one shop, whatever the role (the pages show each role what it may do).
    Platform staff work the platform's pages, whatever shop they may also belong to."""
    return not is_platform_staff(user) and bool(shop_roles(user))


def merchant_or_platform_staff(user: User) -> bool:
    return merchant_staff(user) or is_platform_staff(user)


@dataclass(frozen=True)
class Entry:
    key: str  # stable id for tests and the browser walk (data-nav="…")
    label: Promise
    audience: Audience
    url_name: str = ""
    model: str = ""  # an admin changelist: "app_label.ModelName"; its ModelAdmin decides too
    also: tuple[str, ...] = ()  # URL names of the pages reached from this one (details, forms)

    @property
    def view_name(self) -> str:
        if self.model:
            app_label, model_name = self.model.lower().split(".")
            return f"admin:{app_label}_{model_name}_changelist"
        return self.url_name

    def url(self) -> str:
        return reverse(self.view_name)

    def owns(self, view_name: str) -> bool:
        """Whether the page `view_name` is this entry's page or one reached from it."""
        if self.model:
            return view_name.startswith(self.view_name.removesuffix("changelist"))
        return view_name == self.url_name or view_name in self.also

    def offered_to(self, request: HttpRequest) -> bool:
        user = request.user
        if not (is_platform_admin(user) or self.audience(user)):  # platform admins: every page
            return False
        if self.model:
            model_admin = admin.site.get_model_admin(apps.get_model(self.model))
            return model_admin.has_view_or_change_permission(request)
        return True


@dataclass(frozen=True)
class Section:
    key: str
    label: Promise
    entries: tuple[Entry, ...]


SECTIONS: tuple[Section, ...] = (
    Section("aftersales", _("After-sales"), (
        Entry("desk", _("After-sales desk"), merchant_staff, "aftersales_desk:desk"),
        Entry("cases", _("After-sales cases"), merchant_staff, model="aftersales.AfterSalesCase"),
        Entry("addresses", _("Return addresses"), merchant_staff, model="aftersales.ReturnAddress"),
        Entry("hotline", _("Shops & hotline"), merchant_staff, model="shops.Shop"),
        Entry("staff", _("Shop staff"), merchant_staff, model="shops.ShopMembership"),
    )),
    Section("service", _("Customer service"), (
        Entry("service", _("Customer-service workbench"), merchant_staff, "customerservice:workbench",
              also=("customerservice:conversation", "customerservice:violations")),
    )),
    Section("metrics", _("Service quality"), (
        Entry("dashboard", _("Dashboard"), merchant_or_platform_staff, "metrics:dashboard", also=("metrics:orders",)),
        Entry("platform", _("All shops"), is_platform_staff, "metrics:platform"),
    )),
    Section("warranty", _("National warranty"), (
        Entry("violations", _("Violations"), merchant_staff, "compensation:violations",
              also=("compensation:violation",)),
        Entry("payouts", _("Payouts"), merchant_staff, "compensation:payouts"),
    )),
    Section("review", _("Platform review"), (
        Entry("queue", _("Intervention cases"), is_platform_staff, "review:queue", also=("review:case",)),
        Entry("warranty", _("Warranty reports"), is_platform_staff, "review:warranty",
              also=("review:warranty_report", "compensation:violation")),
    )),
    Section("money", _("Money"), (
        Entry("charges", _("Charges"), merchant_or_platform_staff, "compensation:charges"),
        Entry("accounts", _("Accounts"), merchant_or_platform_staff, "compensation:accounts",
              also=("compensation:statement", "compensation:credit")),
        Entry("orders", _("Orders to ship"), merchant_staff, "compensation:orders",
              also=("compensation:order", "compensation:out_of_stock")),
    )),
    Section("system", _("System"), (
        Entry("jobs", _("Scheduled jobs"), is_platform_admin, "jobs:status"),
    )),
)  # fmt: skip


@dataclass(frozen=True)
class Link:
    key: str
    label: Promise
    url: str
    current: bool = False


@dataclass(frozen=True)
class Group:
    key: str
    label: Promise
    links: list[Link] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.links[0].url


class Navigation:
    """The navigation of one request, worked out when a template first asks (lazily: a page
    that shows no header, such as a CSV download, costs nothing)."""

    def __init__(self, request: HttpRequest) -> None:
        self.request = request

    @cached_property
    def view_name(self) -> str:
        match = self.request.resolver_match
        return match.view_name if match else ""

    @cached_property
    def sections(self) -> list[Group]:
        """The sections with the links the user is offered; empty sections left out."""
        groups = []
        current_found = False
        for section in SECTIONS:
            links = []
            for entry in section.entries:
                if not entry.offered_to(self.request):
                    continue
                # A page reached from two entries (a violation: merchants' list, reviewers'
                # reports) belongs to the first one the user has.
                current = not current_found and bool(self.view_name) and entry.owns(self.view_name)
                current_found = current_found or current
                links.append(Link(entry.key, entry.label, entry.url(), current))
            if links:
                groups.append(Group(section.key, section.label, links))
        return groups

    @cached_property
    def current(self) -> tuple[Group, Link] | None:
        for group in self.sections:
            for link in group.links:
                if link.current:
                    return group, link
        return None

    @property
    def section(self) -> Group | None:
        return self.current[0] if self.current else None

    @property
    def entry(self) -> Link | None:
        return self.current[1] if self.current else None

    @property
    def on_sub_page(self) -> bool:
        """On a page reached from the entry (a detail, a form), not the entry's page itself."""
        return self.entry is not None and self.request.path != self.entry.url

    def keys(self) -> list[str]:
        return [link.key for group in self.sections for link in group.links]


def navigation(request: HttpRequest) -> dict[str, Navigation]:
    """Context processor: `navigation` on every page rendered with a request."""
    return {"navigation": Navigation(request)}


def home(request: HttpRequest) -> HttpResponseRedirect:
    """The site's root, each role's home (the one seed_demo prints beside each login). Merchant staff work
    at the after-sales desk, reviewers at the intervention queue; a platform admin, and a visitor (whom
    the admin index sends to the login), start at the admin index."""
    user = request.user
    if merchant_staff(user):
        return HttpResponseRedirect(reverse("aftersales_desk:desk"))
    if is_platform_staff(user) and not is_platform_admin(user):
        return HttpResponseRedirect(reverse("review:queue"))
    return HttpResponseRedirect(reverse("admin:index"))
