"""Conversations and replies (SPEC §7.1, §7.2): the buyers waiting for an answer, most urgent
first; one conversation with its messages; a reply, through the service the back-office reply
form calls (customerservice.services.messages.message_reply), refused as `rule_broken` with the
rule of SPEC §7.2 it breaks."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response

from customerservice import selectors as cs_selectors
from customerservice.services.messages import ReplyRefused, message_reply

from .. import problems, selectors
from ..idempotency import idempotent
from ..schema import problems as documented
from ..serializers.shop import (
    ConversationDetailSerializer,
    ReplyAnswerSerializer,
    ReplySerializer,
    WaitingConversationSerializer,
    WaitingPageSerializer,
    WaitingQuerySerializer,
)
from .base import ApiView

TAG = "conversations"


class ConversationList(ApiView):
    @extend_schema(
        tags=[TAG],
        operation_id="conversations_waiting",
        summary="Conversations waiting for a reply, most urgent first",
        description=(
            "Each conversation with a buyer message still unanswered, by the reply due of its oldest one "
            "(48 h after receipt, SPEC §7.1), with its unanswered messages. A work queue: a conversation "
            "answered leaves it; `has_more` says more wait after this page."
        ),
        parameters=[WaitingQuerySerializer],
        responses={200: WaitingPageSerializer},
    )
    def get(self, request):
        query = WaitingQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        size = query.validated_data.get("page_size") or settings.API_PAGE_SIZE
        now = timezone.now()
        page = list(selectors.conversations_waiting(shop=self.shop(), now=now)[: size + 1])
        data = WaitingConversationSerializer(page[:size], many=True, context={"now": now}).data
        return Response({"results": data, "has_more": len(page) > size})


class ConversationDetail(ApiView):
    @extend_schema(
        tags=[TAG],
        operation_id="conversations_retrieve",
        summary="One conversation with its messages",
        responses=ConversationDetailSerializer,
    )
    def get(self, request, buyer: str):
        conversation = selectors.conversation_of(shop=self.shop(), buyer=buyer)
        if conversation is None:
            raise problems.NotFound()
        conversation.thread = cs_selectors.thread(conversation)
        return Response(ConversationDetailSerializer(conversation).data)


class ConversationReply(ApiView):
    @extend_schema(
        tags=[TAG],
        operation_id="conversations_reply",
        summary="Reply to the buyer",
        description=(
            "Answers every buyer message of the conversation still unanswered (SPEC §7.1). Checked against "
            "SPEC §7.2 first (links, e-mail, bank cards, payment accounts, QR codes in images, store "
            "addresses, abuse): a refused reply is `rule_broken` with the rule, and nothing of it is kept."
        ),
        request=ReplySerializer,
        responses={201: OpenApiResponse(ReplyAnswerSerializer, description="The reply as kept.")},
        extensions=documented("rule_broken"),
    )
    @idempotent
    def post(self, request, buyer: str):
        shop = self.shop()
        conversation = selectors.conversation_of(shop=shop, buyer=buyer)
        if conversation is None:
            raise problems.NotFound()
        body = ReplySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            reply = message_reply(
                shop=shop,
                buyer=conversation.buyer,
                text=body.validated_data["text"],
                images=body.validated_data.get("images", []),
                at=timezone.now(),
                actor=request.user,
                source="api",
            )
        except PermissionDenied:
            raise problems.Forbidden() from None
        except ReplyRefused as refused:
            raise problems.RuleBroken(
                "; ".join(refused.messages), extra={"rule": refused.breach.rule, "part": refused.breach.part}
            ) from None
        except ValidationError as error:
            if error.code == "not_an_image":
                # Well-formed base64 that is not a readable image: the content is refused, as a
                # rule refuses it (the description cannot say "an image" of a string).
                raise problems.RuleBroken("; ".join(error.messages), extra={"rule": "not_an_image"}) from None
            raise problems.ValidationFailed(extra={"errors": {"body": error.messages}}) from None
        return Response(ReplyAnswerSerializer(reply).data, status=201)
