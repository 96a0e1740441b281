"""Late-reply violations and their fines (SPEC §7.1): an automatic charge source of the charge
engine (`compensation.services.charges`), like late shipments.

What is due: the buyer messages of the late-reply watch (not answered by their reply due, not
covered yet) whose reply due has passed. The first such message of a conversation starts a
violation at its reply due; the violation covers every message of the conversation received at or
before that due and not answered by it (answered later, or not yet), and a message received after
it starts a clock of its own. Lateness is read from the received and answered times alone, so the
job finds the same violations whenever it runs, and a late reply never undoes one.

The fine is priced when the violation is applied: its rank is the shop's number of violations of
the same calendar year (Asia/Shanghai) so far, plus one. The engine applies a shop's automatic
charges in (due, priority, message id) order, so that is the rank by due time SPEC asks for; the
database refuses a second violation of one shop with the same year and rank.

Locks: the engine holds the shops; `due` then locks the conversations of the messages it read (the
lock of their messages, as for the services), with NOWAIT in the job, and reads the messages again
under those locks.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Max, Q, QuerySet

from compensation.models import ChargeKind
from compensation.services import charges, ledger
from pddadmin import setsql

from ..models import LATE_REPLY_WATCH, REPLY_WITHIN, Conversation, LateReplyViolation, Message, fine_for, fine_year


def late_reply_cause(message_platform_id: str) -> str:
    return f"late_reply:{message_platform_id}"


@dataclass
class LateReplyDue(charges.DueCharge):
    """A violation to record with its fine: the charge, and what the violation row needs."""

    conversation_id: int = 0
    message_id: int = 0
    covered: list[int] = field(default_factory=list)
    year: int = 0
    rank: int = 0


# The times of a message as the job compares them: datetimes, or on PostgreSQL microseconds since
# the epoch (integers: read as such, not parsed one by one into datetimes), `when` turning the few
# that become a violation's due back into datetimes.
Moment = dt.datetime | int
# One buyer message as the job judges it: (id, platform id, received, reply due, answered or None),
# a plain tuple (the job reads one per message of every thread it judges).
Read = tuple[int, str, Moment, Moment, Moment | None]


def _violations(
    messages: list[Read],
    *,
    starters: set[int],
    shop_id: int,
    buyer: str,
    conversation_id: int,
    memo: str,
    when: Callable[[Moment], dt.datetime],
) -> list[LateReplyDue]:
    """The violations of one conversation, from its uncovered buyer messages in time order.

    Only a message among `starters` (what the job read in order, up to its limit) may start one:
    a later one waits for its batch, so the violations come in the engine's order. `when`: a
    message's moment as a datetime."""
    found: list[LateReplyDue] = []
    current: LateReplyDue | None = None
    current_due: Moment | None = None
    # Not answered by a moment: no answer, or one after it (a reply at exactly the moment is in time).
    for pk, platform_id, at, own_due, answered in messages:
        if current is not None and at <= current_due:
            if answered is None or answered > current_due:
                current.covered.append(pk)
            continue  # answered by that due: in time for its own, later, due as well
        current = None
        if pk in starters and (answered is None or answered > own_due):
            due = when(own_due)
            current_due = own_due
            current = LateReplyDue(
                kind=ChargeKind.LATE_REPLY,
                shop_id=shop_id,
                at=due,
                key=platform_id,
                cause=late_reply_cause(platform_id),
                buyer=buyer,
                memo=memo % {"message": platform_id},
                message=platform_id,
                conversation_id=conversation_id,
                message_id=pk,
                covered=[pk],
                year=fine_year(due),
            )
            found.append(current)
    return found


class LateReply:
    """The automatic source of late-reply fines: buyer messages whose reply due has passed."""

    kind = ChargeKind.LATE_REPLY
    priority = 0  # SPEC §6.1: at the same instant, late-reply fines before shipping compensation

    def shops_due(self, now: dt.datetime) -> QuerySet:
        return Message.objects.filter(LATE_REPLY_WATCH, reply_due_at__lte=now).values("conversation__shop_id")

    def due(self, *, shop_ids: list[int], now: dt.datetime, limit: int, nowait: bool) -> charges.Offer:
        rows = self._due_rows(shop_ids=shop_ids, now=now, limit=limit)
        offer = charges.Offer(charges=[], candidates=[], last_key=None)
        if not rows:
            return offer
        for pk, _conversation, shop_id, platform_id, due in rows:
            offer.candidates.append(
                (charges.sort_key(shop_id=shop_id, at=due, priority=self.priority, key=platform_id), pk)
            )
        if len(rows) == limit:
            offer.last_key = offer.candidates[-1][0]
        conversations = self._lock(sorted({row[1] for row in rows}), nowait=nowait)
        dues = [row[4] for row in rows]
        by_conversation, when = self._uncovered(list(conversations), since=min(dues), until=max(dues))
        starters = {row[0] for row in rows}
        memo = charges.memo_template(self.kind)
        for conversation_id, messages in by_conversation.items():
            shop_id, buyer = conversations[conversation_id]
            offer.charges += _violations(
                messages,
                starters=starters,
                shop_id=shop_id,
                buyer=buyer,
                conversation_id=conversation_id,
                memo=memo,
                when=when,
            )
        return offer

    @staticmethod
    def _due_rows(*, shop_ids: list[int], now: dt.datetime, limit: int) -> list[tuple]:
        """(message, conversation, shop, platform id, reply due) of the watch of these shops due by
        `now`, in (shop, due, platform id) order, the first `limit`."""
        watch = Message.objects.filter(LATE_REPLY_WATCH, reply_due_at__lte=now)
        if not setsql.set_based():
            return list(
                watch.filter(conversation__shop_id__in=shop_ids)
                .order_by("conversation__shop_id", "reply_due_at", charges.plain("platform_id"))
                .values_list("pk", "conversation_id", "conversation__shop_id", "platform_id", "reply_due_at")[:limit]
            )
        # Conversation by conversation (the shops' conversations, then each one's watch through
        # message_watch_by_conversation): the planner would rather scan the whole watch, every batch
        # (OFFSET 0 keeps the subquery from being merged into such a join). The watch condition is
        # the ORM's own (LATE_REPLY_WATCH), compiled.
        query = watch.query
        compiler = query.get_compiler(connection=connection)
        condition, condition_params = compiler.compile(query.where)
        message, conversation = setsql.table(Message), setsql.table(Conversation)
        sql = f"""
            SELECT m.id, m.conversation_id, c.shop_id, m.platform_id,
                   (EXTRACT(EPOCH FROM m.reply_due_at) * 1000000)::bigint
            FROM {conversation} c CROSS JOIN LATERAL (
                SELECT id, conversation_id, platform_id, reply_due_at FROM {message}
                WHERE {message}.conversation_id = c.id AND {condition} OFFSET 0) m
            WHERE c.shop_id = ANY(%s::bigint[])
            ORDER BY c.shop_id, m.reply_due_at, m.platform_id COLLATE "C" LIMIT %s"""
        with connection.cursor() as cur:
            cur.execute(sql, [*condition_params, setsql.array("bigint", shop_ids), limit])
            return [(*row[:4], setsql.from_micros(row[4])) for row in cur.fetchall()]

    @staticmethod
    def _lock(conversation_ids: list[int], *, nowait: bool) -> dict[int, tuple[int, str]]:
        """Lock the conversations (the lock of their messages); {id: (shop id, buyer)}. FOR NO KEY
        UPDATE, as the late shipments' orders: the writers of messages lock their conversation FOR
        UPDATE first, which it keeps out, and the job changes no key."""
        qs = Conversation.objects.filter(setsql.among(Conversation, "id", conversation_ids)).order_by("pk")
        qs = qs.select_for_update(nowait=nowait and connection.vendor == "postgresql", no_key=True)
        return {pk: (shop_id, buyer) for pk, shop_id, buyer in qs.values_list("pk", "shop_id", "buyer")}

    @staticmethod
    def _uncovered(
        conversation_ids: list[int], *, since: dt.datetime, until: dt.datetime
    ) -> tuple[dict[int, list[Read]], Callable[[Moment], dt.datetime]]:
        """The conversations' buyer messages not covered yet, received by `until`, read under the
        locks (a reply committed since the first read counts), in time order.

        Only those that can start or be covered by a violation due from `since` (the earliest due
        read) on: a message answered by `since` can do neither, and every other has its reply due
        at or after `since` (a later one answered in time was answered after `since`; a late one
        was read, or is due after what was read), so it was received at or after `since` minus
        REPLY_WITHIN (reply due = received + REPLY_WITHIN): the read is that stretch of each
        thread, not its whole history. With the function that turns the moments read back into
        datetimes."""
        qs = Message.objects.filter(
            setsql.among(Message, "conversation_id", conversation_ids),
            Q(answered_at__isnull=True) | Q(answered_at__gt=since),
            reply_due_at__gte=since,
            violation__isnull=True,
            at__gte=since - REPLY_WITHIN,
            at__lte=until,
        ).order_by("conversation_id", "at", charges.plain("platform_id"))
        times, when = ("at", "reply_due_at", "answered_at"), (lambda moment: moment)
        if setsql.set_based():
            micros = {f"{name}_us": setsql.micros(Message, name) for name in times}
            qs, times, when = qs.annotate(**micros), tuple(micros), setsql.from_micros
            rows = setsql.fetch(qs.values_list("conversation_id", "pk", "platform_id", *times))
        else:
            rows = qs.values_list("conversation_id", "pk", "platform_id", *times)
        found: dict[int, list[Read]] = defaultdict(list)
        for row in rows:
            found[row[0]].append(row[1:])
        return found, when

    def price(self, offers: list[charges.DueCharge], books: dict[int, ledger.Books]) -> None:
        """Rank each violation after the shop's violations of its year so far, in apply order."""
        if not offers:
            return
        ranks = {
            (shop_id, year): top
            for shop_id, year, top in LateReplyViolation.objects.filter(
                shop_id__in={o.shop_id for o in offers}, year__in={o.year for o in offers}
            )
            .values("shop_id", "year")
            .annotate(top=Max("rank"))
            .values_list("shop_id", "year", "top")
        }
        for offer in offers:
            assert isinstance(offer, LateReplyDue)
            offer.rank = ranks[offer.shop_id, offer.year] = ranks.get((offer.shop_id, offer.year), 0) + 1
            offer.amount = fine_for(offer.rank)

    def settle(self, *, candidates: list[int], charged: list[tuple[charges.DueCharge, int]]) -> None:
        """Record the violations beside their charges and mark the messages they cover. A reached
        candidate that started or is covered by no violation was answered in time: it has left the
        watch already."""
        if not charged:
            return
        last: dict[int, dt.datetime] = {}
        for due, _charge in charged:  # in apply order: a conversation's last is its latest
            assert isinstance(due, LateReplyDue)
            last[due.conversation_id] = due.at
        if setsql.set_based():
            self._settle_set_based(charged, last)
            return
        violations = LateReplyViolation.objects.bulk_create(
            [
                LateReplyViolation(
                    conversation_id=due.conversation_id,
                    shop_id=due.shop_id,
                    message_id=due.message_id,
                    due_at=due.at,
                    year=due.year,
                    rank=due.rank,
                    fine=due.amount,
                    charge_id=charge_id,
                )
                for due, charge_id in charged
            ],
            batch_size=ledger.BULK,
        )
        covered = [
            Message(pk=pk, violation_id=violation.pk)
            for (due, _charge), violation in zip(charged, violations, strict=True)
            for pk in due.covered
        ]
        Message.objects.bulk_update(covered, ["violation"], batch_size=ledger.BULK)
        Conversation.objects.bulk_update(
            [Conversation(pk=pk, last_violation_at=at) for pk, at in last.items()],
            ["last_violation_at"],
            batch_size=ledger.BULK,
        )

    @staticmethod
    def _settle_set_based(charged: list[tuple[LateReplyDue, int]], last: dict[int, dt.datetime]) -> None:
        """The same rows in one statement: the violations (ids taken in apply order), each covered
        message pointed at its violation (by the violation's position in the batch) and the
        conversations' last violation."""
        violation, message, conversation = (setsql.table(m) for m in (LateReplyViolation, Message, Conversation))
        columns = [
            ("conversation_id", "bigint"),
            ("shop_id", "bigint"),
            ("message_id", "bigint"),
            ("due_at", "timestamptz"),
            ("year", "int"),
            ("rank", "int"),
            ("fine", "numeric"),
            ("charge_id", "bigint"),
        ]
        rows = [
            (due.conversation_id, due.shop_id, due.message_id, due.at, due.year, due.rank, due.amount, charge_id)
            for due, charge_id in charged
        ]
        covered = [(pk, position) for position, (due, _c) in enumerate(charged, 1) for pk in due.covered]
        sql = f"""
            WITH v AS MATERIALIZED (
                SELECT u.*, {setsql.next_id(LateReplyViolation)} AS id FROM {setsql.unnest("u", columns)} ORDER BY u.ord
            ),
            ins AS (INSERT INTO {violation} (id, conversation_id, shop_id, message_id, due_at, year, rank, fine,
                                             charge_id, recorded_at)
                    SELECT id, conversation_id, shop_id, message_id, due_at, year, rank, fine, charge_id, now()
                    FROM v ORDER BY ord),
            m AS (UPDATE {message} m SET violation_id = v.id
                  FROM unnest(%(covered)s::bigint[], %(positions)s::bigint[]) AS c(id, position)
                  JOIN v ON v.ord = c.position
                  WHERE m.id = c.id AND m.id = ANY(%(covered)s::bigint[])),
            c AS (UPDATE {conversation} c SET last_violation_at = l.at
                  FROM unnest(%(conversations)s::bigint[], %(last)s::timestamptz[]) AS l(id, at)
                  WHERE c.id = l.id AND c.id = ANY(%(conversations)s::bigint[]))
            SELECT count(*) FROM v"""
        # `= ANY` beside the join: the rows are found by their primary key, not by a scan of the
        # table to hash (which the planner picks for a small table, and which grows with it).
        params = {
            **setsql.arrays(columns, list(zip(*rows, strict=True))),
            "covered": setsql.array("bigint", (pk for pk, _p in covered)),
            "positions": setsql.array("bigint", (position for _pk, position in covered)),
            "conversations": setsql.array("bigint", last),
            "last": setsql.array("timestamptz", last.values()),
        }
        with connection.cursor() as cur:
            cur.execute(sql, params)


charges.register(LateReply())
