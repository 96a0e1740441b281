from django.urls import path

from .views import JobStatusView

app_name = "jobs"
urlpatterns = [path("", JobStatusView.as_view(), name="status")]
