"""/api/v1/: the description, the docs, and one block of paths per resource."""

from django.urls import path, re_path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from .converters import PlatformIdConverter
from .views import cases
from .views.base import NoSuchPath

register_converter(PlatformIdConverter, "platform_id")

app_name = "api"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema", template_name="api/redoc.html"), name="redoc"),
    # Cases are named by their platform id (SPEC §10: "the platform id").
    path("cases/", cases.CaseList.as_view(), name="cases"),
    path("cases/<platform_id:case_id>/", cases.CaseDetail.as_view(), name="case"),
    *[
        path(f"cases/<platform_id:case_id>/{name}/", view.as_view(), name=f"case-{name}")
        for name, view in cases.TRANSITION_VIEWS.items()
    ],
    re_path(r"", NoSuchPath.as_view()),  # last: every other path is a not_found problem
]
