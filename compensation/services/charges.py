"""Charges: money a shop owes, taken from deposit, then goods balance, the rest to arrears (SPEC §6.1).

Two ways a charge comes about:
- **issued** at a moment someone picked: a warranty payout (the payout job's time) or an
  out-of-stock compensation (the declaration's time): `charge_issue`, one at a time;
- **automatic**, due at a moment the rules fix (a late-reply fine at the reply due, a late-shipment
  compensation at promised_ship_by) and stamped with it: `AutomaticSource`s say what is due, and
  `apply_due` / `apply_due_locked` apply it in time order, set-based.

Time order (SPEC §6.1): before anything else moves a shop's money at T, every automatic charge of
that shop due at or before T is applied (`apply_due_locked`, called by the credits, the
out-of-stock declaration and the payouts); `process_deadlines --now T` applies all of them
(`apply_due`). A shop's automatic charges apply in the order of (due time, source priority,
platform id), so the same charges with the same splits result whenever the jobs ran.

One charge per cause, ever: `Charge.cause` is unique in the database, and a source only offers
what has no charge yet, read under the shop's lock.
"""

import datetime as dt
import logging
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import Collate
from django.utils.translation import gettext as _

from pddadmin import setsql
from pddadmin.shops.models import Shop

from ..models import Account, AccountKind, Charge, ChargeKind, Coupon, Entry, LedgerTransaction, TransactionKind
from . import ledger

log = logging.getLogger(__name__)

COUPON_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read out over the phone
COUPON_LENGTH = 16  # 32**16 = 2**80 codes: not guessable
# Automatic charges written per transaction. A batch costs a handful of statements and a commit
# whatever its size: at 5,000 rather than 2,000, process_deadlines over 100,000 due messages
# (bench.late_replies) spent about 14% less CPU, its own and the server's together, and a batch
# still holds its shops for about half a second.
BATCH = 5000
SHOPS_PER_CLAIM = 200  # at most; a claim's shops have at most BATCH rows due between them (`_claims`)
RETRY_SECONDS = 0.05  # the waiting pass, when a row its shop's batch needs is held

TRANSACTION_KIND = {
    ChargeKind.WARRANTY: TransactionKind.PAYOUT,
    ChargeKind.LATE_REPLY: TransactionKind.LATE_REPLY,
    ChargeKind.LATE_SHIPMENT: TransactionKind.LATE_SHIPMENT,
    ChargeKind.OUT_OF_STOCK: TransactionKind.OUT_OF_STOCK,
}
# Who receives a charge: buyers through a coupon (the platform owes its face value), or the
# platform itself (a fine).
RECEIVER = {
    ChargeKind.WARRANTY: AccountKind.COUPON_LIABILITY,
    ChargeKind.LATE_REPLY: AccountKind.FINES,
    ChargeKind.LATE_SHIPMENT: AccountKind.COUPON_LIABILITY,
    ChargeKind.OUT_OF_STOCK: AccountKind.COUPON_LIABILITY,
}


# --- amounts and coupons ----------------------------------------------------------------------


def split(*, amount: Decimal, deposit: Decimal, balance: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    """(from deposit, from balance, arrears): deposit first, then balance, the rest is owed."""
    from_deposit = min(amount, max(deposit, ledger.ZERO))
    from_balance = min(amount - from_deposit, max(balance, ledger.ZERO))
    return from_deposit, from_balance, amount - from_deposit - from_balance


def shipping_compensation(kind: str, paid: Decimal) -> Decimal:
    """SPEC §7.3: paid × rate, rounded half up to the cent, within [minimum, maximum] (settings)."""
    return shipping_pricer(kind)(paid)


def shipping_pricer(kind: str) -> Callable[[Decimal], Decimal]:
    """`shipping_compensation` of `kind` as a function of the paid amount, the policy read once
    (a job prices thousands)."""
    policy = settings.SHIPPING_COMPENSATION[kind]
    rate, minimum, maximum = (Decimal(policy[key]) for key in ("rate", "minimum", "maximum"))

    def price(paid: Decimal) -> Decimal:
        raw = (paid * rate).quantize(ledger.CENT, rounding=ROUND_HALF_UP)
        return min(max(raw, minimum), maximum)

    return price


def coupon_expiry_years(issued_at: dt.datetime, years: int) -> dt.datetime:
    """Same local (Shanghai) date and time `years` later; 29 February becomes 28 February."""
    local = issued_at.astimezone(ZoneInfo(settings.TIME_ZONE))
    try:
        later = local.replace(year=local.year + years)
    except ValueError:  # 29 February in a year that has none
        later = local.replace(year=local.year + years, day=28)
    # Rebuild from the wall clock so the offset is the one valid on the later date.
    naive = later.replace(tzinfo=None)
    return naive.replace(tzinfo=ZoneInfo(settings.TIME_ZONE)).astimezone(dt.UTC)


def coupon_expiry(kind: str, issued_at: dt.datetime) -> dt.datetime:
    if kind == ChargeKind.WARRANTY:
        return coupon_expiry_years(issued_at, settings.WARRANTY_COUPON_YEARS)
    return issued_at + dt.timedelta(days=settings.SHIPPING_COUPON_DAYS)  # days of 24 h (SPEC intro)


# Each random byte gives one symbol: 256 is a multiple of the alphabet's 32, so byte % 32 picks each
# symbol equally often, 16 symbols are 80 random bits, and bytes.translate maps a whole batch's
# bytes at once (base64.b32encode is pure Python on 3.11: a job draws 100,000 codes).
assert 256 % len(COUPON_ALPHABET) == 0, "each symbol must be as likely as the others"
_SYMBOL = bytes(COUPON_ALPHABET.encode()[b % len(COUPON_ALPHABET)] for b in range(256))


def new_coupon_code() -> str:
    return new_coupon_codes(1)[0]


def new_coupon_codes(n: int) -> list[str]:
    """`n` codes from one draw of the system's random source."""
    drawn = secrets.token_bytes(n * COUPON_LENGTH).translate(_SYMBOL).decode()
    return [drawn[i : i + COUPON_LENGTH] for i in range(0, len(drawn), COUPON_LENGTH)]


# --- one charge -------------------------------------------------------------------------------


@dataclass
class DueCharge:
    """A charge to be made: what a source offers, or what an issuing service asks for."""

    kind: str
    shop_id: int
    at: dt.datetime
    key: str  # platform id of the message or order: the tie-break of equal due times
    cause: str
    buyer: str
    memo: str
    amount: Decimal | None = None  # None: the source prices it when applied (`price`)
    order_id: int | None = None
    violation_id: int | None = None
    line_id: int | None = None
    message: str = ""


def _split_moves(books: ledger.Books, due: DueCharge, receiver: Account) -> tuple[tuple, list]:
    """The charge's split on the books as they stand, and its ledger moves (checked)."""
    assert due.amount is not None and due.amount > 0, due
    parts = split(amount=due.amount, deposit=books.deposit.balance, balance=books.balance.balance)
    from_deposit, from_balance, arrears = parts
    moves = [
        (books.deposit, -from_deposit),
        (books.balance, -from_balance),
        (books.arrears, -arrears),
        (receiver, due.amount),
    ]
    return parts, moves


class _Writer:
    """Charges of locked shops, split in order and written with a few bulk statements."""

    def __init__(self) -> None:
        self.batch = ledger.LedgerBatch()
        self.rows: list[tuple[Charge, Coupon | None]] = []
        self.receivers: dict[str, Account] = {}

    def receiver(self, kind: str) -> Account:
        if kind not in self.receivers:
            self.receivers[kind] = ledger.platform_account(RECEIVER[kind])
        return self.receivers[kind]

    def add(self, books: ledger.Books, due: DueCharge) -> None:
        (from_deposit, from_balance, arrears), moves = _split_moves(books, due, self.receiver(due.kind))
        txn = self.batch.add(books, kind=TRANSACTION_KIND[due.kind], at=due.at, memo=due.memo, moves=moves)
        coupon = None
        if RECEIVER[due.kind] == AccountKind.COUPON_LIABILITY:
            coupon = Coupon(
                code=new_coupon_code(),
                buyer=due.buyer,
                face_value=due.amount,
                issued_at=due.at,
                expires_at=coupon_expiry(due.kind, due.at),
            )
        charge = Charge(
            kind=due.kind,
            cause=due.cause,
            shop_id=due.shop_id,
            violation_id=due.violation_id,
            line_id=due.line_id,
            order_id=due.order_id,
            message=due.message,
            buyer=due.buyer,
            amount=due.amount,
            from_deposit=from_deposit,
            from_balance=from_balance,
            arrears=arrears,
            transaction=txn,
            at=due.at,
        )
        self.rows.append((charge, coupon))

    def write(self) -> list[Charge]:
        self.batch.write()
        coupons = [coupon for _charge, coupon in self.rows if coupon is not None]
        Coupon.objects.bulk_create(coupons, batch_size=ledger.BULK)
        charges = []
        for charge, coupon in self.rows:
            charge.transaction_id = charge.transaction.pk
            charge.coupon = coupon
            charges.append(charge)
        Charge.objects.bulk_create(charges, batch_size=ledger.BULK)
        self.rows = []
        return charges

    def write_ids(self) -> list[int]:
        return [charge.pk for charge in self.write()]


# The columns of one charge as the set-based writer sends them: one array each.
_CHARGE_COLUMNS = (
    ("kind", "text"),
    ("txn_kind", "text"),
    ("shop_id", "bigint"),
    ("at", "timestamptz"),
    ("memo", "text"),
    ("cause", "text"),
    ("buyer", "text"),
    ("message", "text"),
    ("order_id", "bigint"),
    ("violation_id", "bigint"),
    ("line_id", "bigint"),
    ("amount", "numeric"),
    ("from_deposit", "numeric"),
    ("from_balance", "numeric"),
    ("arrears", "numeric"),
    ("deposit_id", "bigint"),
    ("balance_id", "bigint"),
    ("arrears_id", "bigint"),
    ("receiver_id", "bigint"),
    ("code", "text"),  # NULL: no coupon (a fine)
    ("expires_at", "timestamptz"),
)


_CODE = [name for name, _kind in _CHARGE_COLUMNS].index("code")


def _set_statement() -> str:
    """One statement for a whole batch on PostgreSQL: the ledger transactions, their entries (the
    non-zero moves, in the order deposit, balance, arrears, receiver, as `LedgerBatch` writes them),
    the coupons, the charges, and the cached balances; the charges' ids come back in order."""
    txn, entry, coupon = setsql.table(LedgerTransaction), setsql.table(Entry), setsql.table(Coupon)
    charge, account, shop = setsql.table(Charge), setsql.table(Account), setsql.table(Shop)
    scope = Coupon._meta.get_field("scope").get_default()
    status = Coupon._meta.get_field("status").get_default()
    return f"""
        WITH src AS MATERIALIZED (
            SELECT u.*, {setsql.next_id(LedgerTransaction)} AS txn_id,
                   CASE WHEN u.code IS NULL THEN NULL ELSE {setsql.next_id(Coupon)} END AS coupon_id,
                   {setsql.next_id(Charge)} AS charge_id
            FROM {setsql.unnest("u", _CHARGE_COLUMNS)} ORDER BY u.ord
        ),
        t AS (INSERT INTO {txn} (id, kind, shop_id, at, memo, recorded_at)
              SELECT txn_id, txn_kind, shop_id, at, memo, now() FROM src ORDER BY ord),
        e AS (INSERT INTO {entry} (transaction_id, account_id, amount, at)
              SELECT s.txn_id, m.account_id, m.amount, s.at FROM src s CROSS JOIN LATERAL (VALUES
                  (1, s.deposit_id, -s.from_deposit), (2, s.balance_id, -s.from_balance),
                  (3, s.arrears_id, -s.arrears), (4, s.receiver_id, s.amount)) AS m(pos, account_id, amount)
              WHERE m.amount <> 0 ORDER BY s.ord, m.pos),
        c AS (INSERT INTO {coupon} (id, code, buyer, face_value, min_spend, scope, issued_at, expires_at, status)
              SELECT coupon_id, code, buyer, amount, 0, '{scope}', at, expires_at, '{status}'
              FROM src WHERE code IS NOT NULL ORDER BY ord),
        ch AS (INSERT INTO {charge} (id, kind, cause, shop_id, violation_id, line_id, order_id, message, buyer,
                                     amount, from_deposit, from_balance, arrears, coupon_id, transaction_id, at)
               SELECT charge_id, kind, cause, shop_id, violation_id, line_id, order_id, message, buyer,
                      amount, from_deposit, from_balance, arrears, coupon_id, txn_id, at FROM src ORDER BY ord),
        a AS (UPDATE {account} a SET balance = a.balance + d.delta
              FROM unnest(%(accounts)s::bigint[], %(deltas)s::numeric[]) AS d(id, delta)
              WHERE a.id = d.id AND a.id = ANY(%(accounts)s::bigint[])),
        sh AS (UPDATE {shop} s SET deposit = d.deposit, balance = d.balance
               FROM unnest(%(shops)s::bigint[], %(deposits)s::numeric[], %(balances)s::numeric[])
                    AS d(id, deposit, balance)
               WHERE s.id = d.id AND s.id = ANY(%(shops)s::bigint[]))
        SELECT charge_id FROM src ORDER BY ord"""


class _SetWriter:
    """The batch writer on PostgreSQL: the same splits and rows as `_Writer`, in one statement
    whose parameters are one array per column (no model instance, no statement text per row).

    Cached balances move by the sum of their moves (`balance + delta`): the platform's accounts are
    not locked by a shop's lock, only a shop's own accounts are."""

    def __init__(self) -> None:
        self.rows: list[tuple] = []  # one per charge, in _CHARGE_COLUMNS order
        self.deltas: dict[int, Decimal] = {}
        self.shops: dict[int, ledger.Books] = {}
        self.receivers: dict[str, Account] = {}

    def receiver(self, kind: str) -> Account:
        if kind not in self.receivers:
            self.receivers[kind] = ledger.platform_account(RECEIVER[kind])
        return self.receivers[kind]

    def add(self, books: ledger.Books, due: DueCharge) -> None:
        receiver = self.receiver(due.kind)
        (from_deposit, from_balance, arrears), moves = _split_moves(books, due, receiver)
        deltas = self.deltas
        for account, amount in ledger.check_moves(moves):
            account.balance += amount  # the shop's accounts are locked: the value to be stored
            deltas[account.id] = deltas.get(account.id, ledger.ZERO) + amount
        self.shops[books.shop.id] = books
        coupon = RECEIVER[due.kind] == AccountKind.COUPON_LIABILITY
        self.rows.append(
            (
                *(due.kind, TRANSACTION_KIND[due.kind], due.shop_id, due.at, due.memo[:255], due.cause, due.buyer),
                *(due.message, due.order_id, due.violation_id, due.line_id),
                *(due.amount, from_deposit, from_balance, arrears),
                *(books.deposit.id, books.balance.id, books.arrears.id, receiver.id),
                "" if coupon else None,  # a code is drawn for each in `write_ids`
                coupon_expiry(due.kind, due.at) if coupon else None,
            )
        )

    def write_ids(self) -> list[int]:
        if not self.rows:
            return []
        for books in self.shops.values():
            books.shop.deposit, books.shop.balance = books.deposit.balance, books.balance.balance
        columns = [list(column) for column in zip(*self.rows, strict=True)]
        codes = columns[_CODE]
        fresh = iter(new_coupon_codes(sum(1 for code in codes if code is not None)))
        columns[_CODE] = [None if code is None else next(fresh) for code in codes]
        # A column with no value in the batch (a fine has no order, line, coupon; a late shipment no
        # violation) goes as an empty array: unnest pads a shorter array with NULLs, and the batch's
        # rows are not spelled out as NULL by the thousand.
        columns = [column if any(v is not None for v in column) else [] for column in columns]
        params = {
            **setsql.arrays(_CHARGE_COLUMNS, columns),
            "accounts": setsql.array("bigint", self.deltas),
            "deltas": setsql.array("numeric", self.deltas.values()),
            "shops": setsql.array("bigint", self.shops),
            "deposits": setsql.array("numeric", (books.deposit.balance for books in self.shops.values())),
            "balances": setsql.array("numeric", (books.balance.balance for books in self.shops.values())),
        }
        with connection.cursor() as cur:
            cur.execute(_set_statement(), params)
            ids = [row[0] for row in cur.fetchall()]
        self.__init__()
        return ids


def charge_issue(books: ledger.Books, due: DueCharge) -> Charge:
    """Make one charge now, on the caller's locked books, after the automatic charges due by then."""
    apply_due_locked(books, now=due.at)
    writer = _Writer()  # one charge: the ORM's rows, which the caller gets back
    writer.add(books, due)
    return writer.write()[0]


# --- automatic charges ------------------------------------------------------------------------


class AutomaticSource(Protocol):
    """What one rule makes due. Registered with `register`; `apply_due` merges them in order."""

    kind: str
    priority: int  # ties of equal due time: lower first (SPEC §6.1: late replies, then shipping)

    def shops_due(self, now: dt.datetime) -> QuerySet:
        """Ids of the shops with something due at or before `now` (a values_list queryset)."""

    def due(self, *, shop_ids: list[int], now: dt.datetime, limit: int, nowait: bool) -> "Offer":
        """The first `limit` candidates of these locked shops due at or before `now`, in
        (shop, due time, platform id) order. `nowait`: lock the rows it reads with NOWAIT (the
        job must not wait for a row lock while it holds shops)."""

    def price(self, offers: list[DueCharge], books: dict[int, ledger.Books]) -> None:
        """Set `amount` of each offer that has none, knowing they are applied in this order."""

    def settle(self, *, candidates: list[int], charged: list[tuple[DueCharge, int]]) -> None:
        """Record that these candidates are dealt with (charged now or never to be charged).
        `charged`: this source's offers applied in the batch, each with the id of the charge written
        for it, for a source that keeps records of its own beside the charge."""


@dataclass
class Offer:
    """What a source read: the charges due, and every candidate it looked at (charged or not) by
    its sort key, so the engine can settle exactly those it got to."""

    charges: list[DueCharge]
    candidates: list[tuple[tuple, int]]  # (sort key, candidate id)
    # Sort key of the last candidate read when the read hit its limit: nothing after it is known.
    last_key: tuple | None


_SOURCES: list[AutomaticSource] = []


def register(source: AutomaticSource) -> None:
    if all(s.kind != source.kind for s in _SOURCES):
        _SOURCES.append(source)
        _SOURCES.sort(key=lambda s: s.priority)


def sources() -> list[AutomaticSource]:
    return list(_SOURCES)


def sort_key(*, shop_id: int, at: dt.datetime, priority: int, key: str) -> tuple:
    """The order automatic charges apply in (SPEC §6.1), shop by shop. Python compares the
    platform ids as plain strings (code points), as SPEC says; `plain` makes the database agree."""
    return (shop_id, at, priority, key)


def plain(field_name: str) -> F | Collate:
    """Order by `field_name` as plain strings (byte order), not by the database's language
    collation: the sources' reads must agree with `sort_key` on where a batch ends."""
    if connection.vendor == "postgresql":
        return Collate(field_name, "C")
    return F(field_name)  # SQLite compares text as bytes already


def _apply_batch(books: dict[int, ledger.Books], now: dt.datetime, *, nowait: bool) -> tuple[int, Counter, bool]:
    """Apply the first batch of automatic charges of these locked shops; (candidates read, charges
    by kind, whether a read hit its limit: more may be due). Candidates past the first source's
    cut-off wait for the next batch: another source may have one due before them."""
    shop_ids = sorted(books)
    offers = [(source, source.due(shop_ids=shop_ids, now=now, limit=BATCH, nowait=nowait)) for source in _SOURCES]
    cutoffs = [offer.last_key for _s, offer in offers if offer.last_key is not None]
    cutoff = min(cutoffs) if cutoffs else None
    merged = sorted(
        (
            (sort_key(shop_id=due.shop_id, at=due.at, priority=source.priority, key=due.key), source, due)
            for source, offer in offers
            for due in offer.charges
        ),
        key=lambda item: item[0],
    )
    chosen = [(source, due) for key, source, due in merged if cutoff is None or key <= cutoff]
    for source, _offer in offers:
        source.price([due for s, due in chosen if s is source], books)
    writer = _SetWriter() if setsql.set_based() else _Writer()
    for _source, due in chosen:
        writer.add(books[due.shop_id], due)
    made = Counter(due.kind for _source, due in chosen)
    charged: dict[int, list[tuple[DueCharge, int]]] = {}
    for (source, due), charge_id in zip(chosen, writer.write_ids(), strict=True):
        charged.setdefault(id(source), []).append((due, charge_id))
    read = 0
    for source, offer in offers:
        reached = [pk for key, pk in offer.candidates if cutoff is None or key <= cutoff]
        read += len(reached)
        source.settle(candidates=reached, charged=charged.get(id(source), []))
    return read, made, cutoff is not None


def apply_due_locked(books: ledger.Books, *, now: dt.datetime) -> Counter:
    """Every automatic charge of this shop due at or before `now`, on books the caller locked."""
    made: Counter = Counter()
    while True:
        read, batch, _more = _apply_batch({books.shop.pk: books}, now, nowait=False)
        made += batch
        if not read:
            return made


@dataclass
class ChargeReport:
    now: dt.datetime
    applied: Counter = field(default_factory=Counter)
    batches: int = 0
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.applied.values())

    def summary(self) -> str:
        parts = ", ".join(f"{n} {kind}" for kind, n in sorted(self.applied.items())) or "nothing due"
        return f"{self.total} automatic charges ({parts})"


def shops_with_due(now: dt.datetime) -> QuerySet[Shop]:
    condition = Q()
    for source in _SOURCES:
        condition |= Q(pk__in=source.shops_due(now))
    return Shop.objects.filter(condition) if _SOURCES else Shop.objects.none()


def lock_receivers(*, nowait: bool) -> None:
    """Lock the platform accounts the automatic charges pay into (coupon liability, fines).

    Every writer of a charge updates these rows, and an importer's chunk keeps them locked until it
    commits while it goes on to lock other shops. So the job takes them before it holds anything (or
    gives up at once, NOWAIT, when it already holds a shop): a job that held shops while waiting for
    them could be waiting for an importer that waits for one of its shops (a deadlock, which
    PostgreSQL breaks by failing one of the two, often the importer's settlement line).
    """
    kinds = sorted({RECEIVER[source.kind] for source in _SOURCES})
    for kind in kinds:
        ledger.platform_account(kind)  # exists before it is locked: nobody waits on its insert
    if connection.vendor == "postgresql":
        accounts = Account.objects.filter(shop__isnull=True, kind__in=kinds).order_by("pk")
        list(accounts.select_for_update(nowait=nowait).values_list("pk", flat=True))


def _claim(now: dt.datetime) -> dict[int, ledger.Books]:
    """The first shop with something due, waiting for its lock."""
    ids = list(shops_with_due(now).order_by("pk").select_for_update().values_list("pk", flat=True)[:1])
    return ledger.lock_books_many(shop_ids=ids)


def _claims(now: dt.datetime, deferred: set[int]) -> list[tuple[list[int], int]]:
    """The shops with something due (but `deferred`), in id order, cut into claims: up to
    SHOPS_PER_CLAIM shops whose due rows fill a batch (BATCH), a shop with more on its own. One
    read of what is due per source, grouped by shop, whatever the number of claims. Each claim
    with the number of rows listed as due."""
    counts: Counter = Counter()
    for source in _SOURCES:
        for row in source.shops_due(now).annotate(due_rows=Count("pk")).order_by():
            shop_id = next(value for name, value in row.items() if name != "due_rows")
            counts[shop_id] += row["due_rows"]
    claims: list[tuple[list[int], int]] = []
    for shop_id in sorted(counts.keys() - deferred):
        if not claims or len(claims[-1][0]) == SHOPS_PER_CLAIM or claims[-1][1] + counts[shop_id] > BATCH:
            claims.append(([], 0))
        shops, rows = claims[-1]
        shops.append(shop_id)
        claims[-1] = (shops, rows + counts[shop_id])
    return claims


def _claim_among(shop_ids: list[int]) -> dict[int, ledger.Books]:
    """Those of these shops nobody holds (SKIP LOCKED), locked with their books."""
    qs = Shop.objects.filter(setsql.among(Shop, "id", shop_ids)).order_by("pk").select_for_update(skip_locked=True)
    return ledger.lock_books_many(shop_ids=list(qs.values_list("pk", flat=True)))


def apply_due(*, now: dt.datetime, on_progress: Callable[[int], None] | None = None) -> ChargeReport:
    """Every automatic charge of every shop due at or before `now` (the `process_deadlines` job).

    A pass lists the shops with something due once (one read of what is due, not one per claim),
    then claims them SHOPS_PER_CLAIM at a time with SKIP LOCKED, so two workers share the shops
    instead of queueing; a claim goes on in batches while a batch's read hit its limit. A batch
    whose candidate rows another transaction holds (an importer's chunk) is rolled back and the
    shop is left for later in the run, so the job never waits for a row while holding shops. Passes
    repeat while one makes progress (what fell due meanwhile, what others held); then, for what only
    others held, it waits for the shops one at a time: the run ends with nothing due at or before
    `now` left anywhere. It only ever waits for a lock while it holds none (`lock_receivers`), so
    it can be part of no deadlock.
    """
    started = time.monotonic()
    report = ChargeReport(now=now)
    deferred: set[int] = set()
    progressed = True
    while progressed:
        progressed = False
        for chunk, due_rows in _claims(now, deferred):
            more, reached = True, 0
            # Until a batch's reads stop short of their limit, or every row listed as due was read
            # (a read that ends exactly at its limit cannot tell; what fell due since, the next
            # pass finds).
            while more and reached < due_rows:
                with transaction.atomic():
                    lock_receivers(nowait=False)  # waits holding nothing (see lock_receivers)
                    books = _claim_among(chunk)
                    if not books:
                        break
                    try:
                        with transaction.atomic():
                            read, made, more = _apply_batch(books, now, nowait=True)
                    except OperationalError as exc:  # a row is locked by another transaction (NOWAIT)
                        log.info("automatic charges of shops %s deferred: %s", sorted(books), exc)
                        deferred |= set(books)
                        chunk = [pk for pk in chunk if pk not in deferred]
                        continue
                report.batches += 1
                report.applied += made
                progressed = progressed or read > 0
                reached += read
                if on_progress and read:
                    on_progress(read)
    while True:  # what other transactions held: wait for each shop in turn, holding nothing else
        with transaction.atomic():
            books = _claim(now)
            if not books:
                break
            try:
                with transaction.atomic():
                    lock_receivers(nowait=True)
                    read, made, _more = _apply_batch(books, now, nowait=True)
            except OperationalError as exc:
                # The shop is ours, but a row its batch needs is held by a transaction that may be
                # waiting for the shop (an importer's chunk): let go of the shop, try again shortly.
                log.info("automatic charges of shop %s wait: %s", sorted(books), exc)
                read = None
        if read is None:
            time.sleep(RETRY_SECONDS)
            continue
        report.batches += 1
        report.applied += made
        if on_progress and read:
            on_progress(read)
    report.seconds = time.monotonic() - started
    return report


def due_count(now: dt.datetime) -> int:
    """How many shops have automatic charges due (for a progress bar's total)."""
    return shops_with_due(now).count()


def memo_template(kind: str) -> str:
    """The ledger memo of a charge of `kind` in the active language, with %(…)s for its ids; a job
    that writes thousands reads it once (`memo_for` reads it for one)."""
    labels: dict[str, str] = {
        ChargeKind.WARRANTY: _("warranty compensation: violation %(violation)s, order %(order)s"),
        ChargeKind.LATE_REPLY: _("late-reply fine: message %(message)s"),
        ChargeKind.LATE_SHIPMENT: _("late-shipment compensation: order %(order)s"),
        ChargeKind.OUT_OF_STOCK: _("out-of-stock compensation: order %(order)s"),
    }
    return labels[kind]


def memo_for(kind: str, **ids: str) -> str:
    return memo_template(kind) % ids
