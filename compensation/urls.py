from django.urls import path

from . import views

app_name = "compensation"
urlpatterns = [
    path("", views.violation_list, name="violations"),
    path("violations/<int:pk>/", views.violation_detail, name="violation"),
    path("payouts/", views.payout_list, name="payouts"),
    path("charges/", views.charge_list, name="charges"),
    path("accounts/", views.account_list, name="accounts"),
    path("accounts/<int:pk>/", views.account_statement, name="statement"),
    path("shops/<int:pk>/credit/", views.shop_credit, name="credit"),
    path("orders/", views.order_list, name="orders"),
    path("orders/<int:pk>/", views.order_detail, name="order"),
    path("orders/<int:pk>/out-of-stock/", views.order_out_of_stock, name="out_of_stock"),
]
