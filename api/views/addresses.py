"""Return addresses (SPEC §3): list, add, edit, make one the default; through the services of
the back-office's address book (aftersales.services.addresses). Never deleted through the API
(decided here: an ERP that syncs addresses should not be one call away from removing one the
shop's staff still use; the back-office deletes)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response

from aftersales.services import addresses as address_services

from .. import problems, selectors
from ..idempotency import idempotent
from ..serializers.shop import (
    AddressCreateSerializer,
    AddressEditSerializer,
    EmptySerializer,
    ReturnAddressListSerializer,
    ReturnAddressSerializer,
)
from .base import ApiView

TAG = "return addresses"


def _refused(error: ValidationError) -> problems.Problem:
    return problems.ValidationFailed(extra={"errors": {"body": error.messages}})


class AddressList(ApiView):
    @extend_schema(
        tags=[TAG],
        operation_id="return_addresses_list",
        summary="The shop's return addresses, the default first",
        responses={200: ReturnAddressListSerializer},
    )
    def get(self, request):
        return Response({"results": ReturnAddressSerializer(selectors.addresses_of(shop=self.shop()), many=True).data})

    @extend_schema(
        tags=[TAG],
        operation_id="return_addresses_create",
        summary="Add a return address",
        request=AddressCreateSerializer,
        responses={201: OpenApiResponse(ReturnAddressSerializer, description="The address as kept.")},
    )
    @idempotent
    def post(self, request):
        body = AddressCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            address = address_services.address_add(shop=self.shop(), **body.validated_data)
        except ValidationError as error:
            raise _refused(error) from None
        return Response(ReturnAddressSerializer(address).data, status=201)


class AddressDetail(ApiView):
    def address(self, address_id: int):
        address = selectors.address_of(shop=self.shop(), address_id=address_id)
        if address is None:
            raise problems.NotFound()
        return address

    @extend_schema(
        tags=[TAG],
        operation_id="return_addresses_retrieve",
        summary="One return address",
        responses=ReturnAddressSerializer,
    )
    def get(self, request, address_id: int):
        return Response(ReturnAddressSerializer(self.address(address_id)).data)

    @extend_schema(
        tags=[TAG],
        operation_id="return_addresses_edit",
        summary="Edit a return address",
        description="The fields sent change; cases agreed before keep the copy they took (SPEC §3).",
        request=AddressEditSerializer,
        responses={200: ReturnAddressSerializer},
    )
    @idempotent
    def patch(self, request, address_id: int):
        address = self.address(address_id)
        body = AddressEditSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            address = address_services.address_update(address=address, **body.validated_data)
        except ValidationError as error:
            raise _refused(error) from None
        return Response(ReturnAddressSerializer(address).data)


class AddressSetDefault(ApiView):
    @extend_schema(
        tags=[TAG],
        operation_id="return_addresses_set_default",
        summary="Make this the shop's default return address",
        description="The one default (SPEC §3): the former default stops being it in the same write.",
        request=EmptySerializer,
        responses={200: ReturnAddressSerializer},
    )
    @idempotent
    def post(self, request, address_id: int):
        address = selectors.address_of(shop=self.shop(), address_id=address_id)
        if address is None:
            raise problems.NotFound()
        EmptySerializer(data=request.data).is_valid(raise_exception=True)
        return Response(ReturnAddressSerializer(address_services.address_set_default(address=address)).data)
