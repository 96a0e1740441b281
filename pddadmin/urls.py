from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("i18n/", include("django.conf.urls.i18n")),
    path("review/", include("aftersales.review_urls")),
    path("metrics/", include("metrics.urls")),
    path("compensation/", include("compensation.urls")),
    path("jobs/", include("pddadmin.jobs.urls")),
    path("admin/", admin.site.urls),
]
