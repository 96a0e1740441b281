"""Platform review pages, mounted at /review/ (SPEC §4, §6)."""

from django.urls import path

from . import views

app_name = "review"
urlpatterns = [
    path("", views.QueueView.as_view(), name="queue"),
    path("next/", views.NextCaseView.as_view(), name="next"),
    path("find/", views.FindCaseView.as_view(), name="find"),
    path("cases/<int:pk>/", views.CaseView.as_view(), name="case"),
    path("cases/<int:pk>/claim/", views.ClaimView.as_view(), name="claim"),
    path("cases/<int:pk>/release/", views.ReleaseView.as_view(), name="release"),
    path("cases/<int:pk>/rule/", views.RuleView.as_view(), name="rule"),
    path("cases/<int:pk>/shorten-deadline/", views.ShortenDeadlineView.as_view(), name="shorten"),
    path("warranty/", views.WarrantyQueueView.as_view(), name="warranty"),
    path("warranty/new/", views.WarrantyReportView.as_view(), name="warranty_report"),
]
