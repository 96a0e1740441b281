"""The project's URLs.

One rule for ids: a URL names an object by its database pk (`<int:pk>`), never by its platform id.
A platform id is whatever the platform stored (rows from before the feed checked ids may hold `/`,
`?`, `#`, `%`, `..` or spaces), and such a path segment breaks the link or the page. A platform id
travels only as a query value typed by a person (`?shop_id=`, `?case=`) and is shown escaped.
tests/pddadmin/test_hostile_ids.py holds every page to it.
"""

from django.contrib import admin
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.urls import include, path, reverse

from pddadmin.navigation import home


def login(request):
    """The admin's login, sending a user who came to no page in particular to their role's home
    ("/") rather than to the admin index: merchant staff land on the after-sales desk."""
    if REDIRECT_FIELD_NAME not in request.GET and REDIRECT_FIELD_NAME not in request.POST:
        request.GET = request.GET.copy()
        request.GET[REDIRECT_FIELD_NAME] = reverse("home")
    return admin.site.login(request)


urlpatterns = [
    path("", home, name="home"),
    path("desk/", include("aftersales.desk_urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("review/", include("review.urls")),
    path("metrics/", include("metrics.urls")),
    path("compensation/", include("compensation.urls")),
    path("service/", include("customerservice.urls")),
    path("jobs/", include("pddadmin.jobs.urls")),
    path("api/v1/", include("api.urls")),
    path("admin/login/", login),  # before the admin's own: the same view, another default
    path("admin/", admin.site.urls),
]
