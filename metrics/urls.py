from django.urls import path

from . import views

app_name = "metrics"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("orders/", views.numerator_orders, name="orders"),
    path("platform/", views.platform_overview, name="platform"),
]
