"""The project's URLs.

One rule for ids: a URL names an object by its database pk (`<int:pk>`), never by its platform id.
A platform id is whatever the platform stored (rows from before the feed checked ids may hold `/`,
`?`, `#`, `%`, `..` or spaces), and such a path segment breaks the link or the page. A platform id
travels only as a query value typed by a person (`?shop_id=`, `?case=`) and is shown escaped.
tests/pddadmin/test_hostile_ids.py holds every page to it.
"""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("i18n/", include("django.conf.urls.i18n")),
    path("review/", include("review.urls")),
    path("metrics/", include("metrics.urls")),
    path("compensation/", include("compensation.urls")),
    path("service/", include("customerservice.urls")),
    path("jobs/", include("pddadmin.jobs.urls")),
    path("api/v1/", include("api.urls")),
    path("admin/", admin.site.urls),
]
