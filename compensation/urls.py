from django.urls import path

from . import views

app_name = "compensation"
urlpatterns = [
    path("", views.violation_list, name="violations"),
    path("violations/<int:pk>/", views.violation_detail, name="violation"),
    path("payouts/", views.payout_list, name="payouts"),
    path("accounts/", views.account_list, name="accounts"),
    path("accounts/<int:pk>/", views.account_statement, name="statement"),
]
