"""The customer-service workbench (客服工作台, SPEC §7.1): the conversations waiting for a reply, most
urgent first, with the time left and the fine the next late reply would cost; a conversation's
thread and its reply form; the shop's late-reply violations of a year.

Thin: the selectors read, `message_reply` writes (and checks the reply against SPEC §7.2). Merchant
staff see their shops, platform staff every shop; owners and agents reply, everyone else reads.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError
from django.db.models import Prefetch, QuerySet, Sum, prefetch_related_objects
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from pddadmin.shops.models import Shop
from pddadmin.shops.paginator import LargeTablePaginator
from pddadmin.shops.selectors import handles_cases, is_platform_staff, shops_for

from . import selectors
from .content_rules import Breach
from .forms import ReplyForm
from .models import REPLY_WITHIN, Conversation, Direction, Message, fine_year
from .services.messages import ReplyRefused, message_reply

PER_PAGE = 50
SHOP_CHOICES = 200  # a shop filter lists up to this many shops; beyond, it asks for the shop id
FINE_CARDS = 10  # without a shop chosen, the next fine is shown for up to this many shops
THREAD_LIMIT = 200  # the newest messages a conversation page shows
YEARS_BACK = 4  # the violations page offers this year and the years before


def clock(left: dt.timedelta) -> str:
    """`left` as hours:minutes:seconds, hours unbounded (a reply is due within 48 h), the sign
    dropped; the page's script counts down in the same format."""
    seconds = abs(int(left.total_seconds()))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _urgency(left: dt.timedelta) -> str:
    """The row's class: past the reply due "overdue", within the at-risk window "urgent" (red)."""
    if left < dt.timedelta(0):
        return "overdue"
    return "urgent" if left <= selectors.AT_RISK_WITHIN else ""


def _clock_settings() -> dict:
    """What the page's countdown (static/customerservice/workbench.js) needs to say and when to turn red."""
    return {"overdue": _("overdue"), "urgentSeconds": int(selectors.AT_RISK_WITHIN.total_seconds())}


@dataclass
class ShopPick:
    """The shop a page is limited to (None: all the user's shops) and how the picker offers it:
    a list of the user's shops, or, for users of very many shops (platform staff), a box for the
    shop id."""

    shop: Shop | None
    choices: list[Shop] | None
    typed: str
    several: bool

    def query(self) -> str:
        return urlencode({"shop": self.shop.pk}) if self.shop else ""


def _pick_shop(request: HttpRequest) -> ShopPick:
    """The shop asked for (`?shop=` its pk, from the picker and links; `?shop_id=` a platform id as
    typed, for users of very many shops); a shop the user does not see is a 404, as the shop's
    conversations would be."""
    shops = list(shops_for(request.user).order_by("platform_id")[: SHOP_CHOICES + 1])
    if not shops and not is_platform_staff(request.user):
        raise PermissionDenied(_("You are not staff of any shop."))
    wanted = request.GET.get("shop", "")
    if len(shops) <= SHOP_CHOICES:
        shop = next((s for s in shops if str(s.pk) == wanted), None) if wanted else None
        if wanted and shop is None:
            raise Http404(_("No such shop."))
        if len(shops) == 1:
            return ShopPick(shops[0], None, "", False)
        return ShopPick(shop, shops, "", True)
    typed = request.GET.get("shop_id", "").strip()
    if wanted:
        shop = shops_for(request.user).filter(pk=int(wanted)).first() if wanted.isascii() and wanted.isdigit() else None
    else:
        shop = shops_for(request.user).filter(platform_id=typed).first() if typed else None
    if (wanted or typed) and shop is None:
        raise Http404(_("No such shop."))
    return ShopPick(shop, None, typed, True)


def _fine_cards(pick: ShopPick, *, now: dt.datetime) -> list[dict]:
    """For each shop shown: what its next late-reply violation would cost, and how many it has this
    year (the year of `now`, Asia/Shanghai)."""
    shops = [pick.shop] if pick.shop else (pick.choices or [])
    if len(shops) > FINE_CARDS:
        return []
    year = fine_year(now)
    return [
        {
            "shop": shop,
            "year": year,
            "next_fine": selectors.next_fine(shop=shop, now=now),
            "violations": selectors.violations_of_year(shop=shop, year=year).count(),
        }
        for shop in shops
    ]


def _latest_questions(conversations: list[Conversation]) -> None:
    """Each conversation's newest unanswered buyer message as `latest_question` (a list of at most
    one), in one query for the page."""
    unanswered = Message.objects.filter(direction=Direction.RECEIVED, answered_at__isnull=True).order_by("-at", "-id")
    prefetch_related_objects(conversations, Prefetch("messages", queryset=unanswered[:1], to_attr="latest_question"))


@login_required
def workbench(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    pick = _pick_shop(request)
    conversations = selectors.conversations_for(request.user)
    if pick.shop:
        conversations = conversations.filter(shop=pick.shop)
    waiting = selectors.waiting_conversations(conversations, now=now)
    page = LargeTablePaginator(waiting, PER_PAGE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    _latest_questions(rows)
    for row in rows:
        row.clock, row.urgency = clock(row.time_left), _urgency(row.time_left)
        row.waiting_since = row.reply_due_at - REPLY_WITHIN  # the oldest unanswered message's arrival
        # Its oldest unanswered message is covered by a recorded violation: fined already.
        row.fined = row.last_violation_at is not None and row.reply_due_at <= row.last_violation_at
    return render(
        request,
        "customerservice/workbench.html",
        {
            "page": page,
            "rows": rows,
            "now": now,
            "pick": pick,
            "fine_cards": _fine_cards(pick, now=now),
            "clock_settings": _clock_settings(),
        },
    )


# --- one conversation ----------------------------------------------------------------------------


def _thread(conversation: Conversation) -> tuple[list[Message], bool]:
    """The newest THREAD_LIMIT messages in time order, and whether older ones were left out."""
    newest = list(selectors.thread(conversation).order_by("-at", "-id")[: THREAD_LIMIT + 1])
    return newest[:THREAD_LIMIT][::-1], len(newest) > THREAD_LIMIT


def _blank_form(*, seen: int, text: str = "", token: str | None = None) -> ReplyForm:
    return ReplyForm(initial={"text": text, "token": token or ReplyForm.new_token(), "seen": seen})


def _highlight(text: str, breach: Breach) -> dict | None:
    """The refused text cut around the part that breaks the rule, for the page to mark it."""
    if breach.attachment is not None or breach.end <= breach.start:
        return None
    return {"before": text[: breach.start], "part": text[breach.start : breach.end], "after": text[breach.end :]}


def _sent(request: HttpRequest, conversation: Conversation, reply: Message, *, again: bool) -> HttpResponse:
    if again:
        messages.info(request, _("This reply was sent already; it was not sent a second time."))
    else:
        messages.success(
            request,
            _("Reply sent to %(buyer)s; it answers %(count)s message(s).")
            % {"buyer": conversation.buyer, "count": reply.answered.count()},
        )
    return redirect(f"{reverse('customerservice:workbench')}?{urlencode({'shop': conversation.shop_id})}")


@dataclass
class Shown:
    """The reply form shown again, the text kept: with the rule a refused reply broke, or a notice."""

    form: ReplyForm
    breach: Breach | None = None
    notice: str = ""
    images_dropped: int = 0  # images the agent must attach again (a browser cannot keep them)


def _reply(request: HttpRequest, conversation: Conversation, *, newest: int) -> HttpResponse | Shown:
    """Send the posted reply (then redirect to the list), or say why not."""
    form = ReplyForm(request.POST, request.FILES)
    if not form.is_valid():
        if "token" in form.errors or "seen" in form.errors:  # not a form this page made
            return Shown(_blank_form(seen=newest, text=request.POST.get("text", "")), notice=_("Please send again."))
        return Shown(form, images_dropped=len(request.FILES.getlist("images")))
    data = form.cleaned_data
    reply_id = ReplyForm.reply_id(data["token"])
    # Shown again, the form holds the text as checked (line breaks as the text area has them).
    again = _blank_form(seen=data["seen"], text=data["text"], token=data["token"])

    def sent_before() -> Message | None:
        return Message.objects.filter(platform_id=reply_id, conversation=conversation).first()

    if (sent := sent_before()) is not None:  # a double click, a resent request
        return _sent(request, conversation, sent, again=True)
    if newest > data["seen"]:
        notice = _("New messages arrived while you were writing: read them, then send your reply.")
        again.initial["seen"] = newest
        return Shown(again, notice=notice, images_dropped=len(data["images"]))
    try:
        reply = message_reply(
            shop=conversation.shop,
            buyer=conversation.buyer,
            text=data["text"],
            images=data["images"],
            at=timezone.now(),
            actor=request.user,
            platform_id=reply_id,
            source="admin",
        )
    except ReplyRefused as refused:
        return Shown(again, breach=refused.breach, images_dropped=len(data["images"]))
    except (IntegrityError, ValidationError) as error:
        # The same form posted twice at once: the other post sent the reply under this id (the
        # unique id stops the second, as a duplicate id or at the insert).
        if (sent := sent_before()) is not None:
            return _sent(request, conversation, sent, again=True)
        if isinstance(error, IntegrityError):
            raise
        form.add_error(None, error)
        return Shown(form, images_dropped=len(data["images"]))
    return _sent(request, conversation, reply, again=False)


@login_required
@require_http_methods(["GET", "POST"])
def conversation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = get_object_or_404(selectors.conversations_for(request.user), pk=pk)
    may_reply = handles_cases(request.user, conversation.shop_id)
    if request.method == "POST" and not may_reply:
        raise PermissionDenied(_("Only the shop's owner and agents reply to buyers."))
    now = timezone.now()
    thread, truncated = _thread(conversation)
    newest = thread[-1].pk if thread else 0
    shown = Shown(_blank_form(seen=newest)) if may_reply else None
    if request.method == "POST":
        outcome = _reply(request, conversation, newest=newest)
        if isinstance(outcome, HttpResponse):
            return outcome
        shown = outcome
    left = conversation.reply_due_at - now if conversation.reply_due_at else None
    breach = shown.breach if shown else None
    highlight = _highlight(shown.form.initial["text"], breach) if breach else None
    if highlight:  # the page's script selects the part in the text area
        shown.form.fields["text"].widget.attrs.update({"data-start": breach.start, "data-end": breach.end})
    return render(
        request,
        "customerservice/conversation.html",
        {
            "conversation": conversation,
            "thread": thread,
            "truncated": truncated,
            "may_reply": may_reply,
            "form": shown.form if shown else None,
            "notice": shown.notice if shown else "",
            "breach": breach,
            "highlight": highlight,
            "attachment_number": breach.attachment + 1 if breach and breach.attachment is not None else None,
            "images_again": shown.images_dropped if shown else 0,
            "now": now,
            "left": left,
            "clock": clock(left) if left is not None else "",
            "urgency": _urgency(left) if left is not None else "",
            "clock_settings": _clock_settings(),
            "violations": conversation.violations.select_related("charge").order_by("due_at"),
        },
    )


# --- the shop's violations of a year -------------------------------------------------------------


def _year(request: HttpRequest, this_year: int) -> int:
    value = request.GET.get("year", "")
    if not value:
        return this_year
    if not (value.isascii() and value.isdigit()) or not this_year - YEARS_BACK <= int(value) <= this_year:
        raise Http404(_("No such year."))
    return int(value)


def _fined(violations: QuerySet) -> Decimal:
    """The fines of `violations` together (SQLite sums decimals without their places)."""
    total = violations.order_by().aggregate(total=Sum("fine"))["total"]
    return Decimal(total or 0).quantize(Decimal("0.01"))


@login_required
def violation_list(request: HttpRequest) -> HttpResponse:
    """One shop's late-reply violations of a calendar year (Asia/Shanghai), by rank, with their
    fines; the shop is the one chosen, or the user's first."""
    now = timezone.now()
    pick = _pick_shop(request)
    shop = pick.shop or (pick.choices[0] if pick.choices else None)
    if shop is None:  # platform staff of very many shops: the first one
        shop = Shop.objects.order_by("platform_id").first()
        if shop is None:
            raise Http404(_("No such shop."))
    pick.shop = shop
    this_year = fine_year(now)
    year = _year(request, this_year)
    violations = selectors.violations_of_year(shop=shop, year=year)
    page = LargeTablePaginator(violations, PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "customerservice/violations.html",
        {
            "pick": pick,
            "shop": shop,
            "year": year,
            "years": list(range(this_year, this_year - YEARS_BACK - 1, -1)),
            "page": page,
            "total": _fined(violations),
            "next_fine": selectors.next_fine(shop=shop, now=now) if year == this_year else None,
        },
    )
