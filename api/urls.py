"""/api/v1/: the description, the docs, and one block of paths per resource."""

from django.urls import path, re_path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

# drf-spectacular reads the authentication scheme's description from the extension in .schema;
# imported with the paths (web server, schema command), not at every start-up: commands never need it.
from . import schema  # noqa: F401
from .converters import PlatformIdConverter
from .views import addresses, cases, conversations, money, orders
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
    # A conversation is named by its buyer's platform id (one per shop and buyer, SPEC §7.1).
    path("conversations/", conversations.ConversationList.as_view(), name="conversations"),
    path("conversations/<platform_id:buyer>/", conversations.ConversationDetail.as_view(), name="conversation"),
    path(
        "conversations/<platform_id:buyer>/replies/",
        conversations.ConversationReply.as_view(),
        name="conversation-replies",
    ),
    # Return addresses by their id, as a case's agree body names them.
    path("return_addresses/", addresses.AddressList.as_view(), name="return-addresses"),
    path("return_addresses/<int:address_id>/", addresses.AddressDetail.as_view(), name="return-address"),
    path(
        "return_addresses/<int:address_id>/set_default/",
        addresses.AddressSetDefault.as_view(),
        name="return-address-set-default",
    ),
    path("orders/<platform_id:order_id>/out_of_stock/", orders.OrderOutOfStock.as_view(), name="order-out-of-stock"),
    path("charges/", money.ChargeList.as_view(), name="charges"),
    path("accounts/", money.Accounts.as_view(), name="accounts"),
    path("metrics/", money.Metrics.as_view(), name="metrics"),
    path("forecast/", money.Forecast.as_view(), name="forecast"),
    re_path(r"", NoSuchPath.as_view()),  # last: every other path is a not_found problem
]
