"""The do-nothing forecast (预警, SPEC §5.2): each goods' §5 quality figures and flags for day D
and the 7 days after it, if nothing happens after the end of D but what happens by itself.

Nothing here re-implements a figure: the goods rows of each projected day are the daily
snapshot's own SQL (metrics.services.goods_rows_sql) run over other inputs:
- the refunds: the stored ones, plus one projected refund for every open case whose automatic
  transition (from the @transition declarations, as the deadline job reads them) ends in a refund,
  stamped at its deadline with its current reason, as `record_transitions` would write it; cases
  waiting for the buyer close at theirs and cases under intervention stay open, so neither refunds;
- the grouped orders: held at day D's window (the stored snapshot's, when D has one, as
  export_metrics reads them), so the category's goods with grouped orders are held too (the shop
  is assumed to keep its volume);
- the day before: the stored snapshot of D-1 for day D, then each projected day for the next, so
  streaks and restrictions continue from the stored ones under the same consecutive-day rule.
The forecast is of the quality figures: the projection holds the refunds of class quality only,
and the logistics sources are read as none, so the other figures of its rows are not forecasts.
That keeps eight runs over a shop's categories within a second on the 1M-order bench.

The work is a handful of statements into temporary tables of this connection, so two forecasts at
once do not meet; it writes nothing that stays.
"""

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from aftersales.models import REASON_CLASS, AfterSalesCase, Refund, State, automatic_transitions
from pddadmin.shops.models import Goods, Order, Shop

from .figures import QUALITY_REFUND, AnyOf
from .figures import sql_params as figure_sql_params
from .models import Flag, GoodsDaySnapshot
from .services import GOODS_COLUMNS, GOODS_FIGURES, Inputs, day_params, goods_rows_sql, grouped_sql, table_names
from .windows import window_for

FORECAST_DAYS = 7
LEVELS = (Flag.OVER_3X, Flag.OVER_5X)  # a goods over 5× is over 3× too

_GOODS = "metrics_forecast_goods"
_HELD = "metrics_forecast_held"
_REFUNDS = "metrics_forecast_refunds"
_DAYS = "metrics_forecast_days"
_TEMPORARY = (_GOODS, _HELD, _REFUNDS, _DAYS)


@dataclass(frozen=True)
class ProjectedDay:
    """One goods' figures on one projected day, as its snapshot of that day would hold them."""

    date: dt.date
    grouped_orders: int
    quality_refund_orders: int
    category_grouped_orders: int
    category_quality_refund_orders: int
    category_goods: int
    flag: str
    streak_3x: int
    streak_5x: int
    restriction: str
    restricted_since: dt.date | None
    # the goods' open cases whose projected quality refund counts on this day
    cases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Crossing:
    """A goods reaching a level it does not hold on day D: the first projected day at that level
    or above, and the open cases whose automatic quality refunds fall by then (SPEC §9)."""

    goods: str
    shop: str
    level: str
    date: dt.date
    cases: tuple[str, ...]


@dataclass
class GoodsForecast:
    goods: str
    shop: str
    name: str
    category: str
    days: list[ProjectedDay] = field(default_factory=list)  # D, D+1, … D+7

    def _first(self, level: str, attribute: str) -> Crossing | None:
        def reached(day: ProjectedDay) -> bool:
            value = getattr(day, attribute)
            return bool(value) and LEVELS.index(value) >= LEVELS.index(level)

        if reached(self.days[0]):
            return None
        day = next((d for d in self.days[1:] if reached(d)), None)
        return day and Crossing(self.goods, self.shop, str(level), day.date, day.cases)

    @property
    def flags_coming(self) -> list[Crossing]:
        """The flag levels not held on day D and reached within the 7 days."""
        return [c for level in LEVELS if (c := self._first(level, "flag"))]

    @property
    def restrictions_coming(self) -> list[Crossing]:
        """The same for the restrictions, projected with the consecutive-day rule."""
        return [c for level in LEVELS if (c := self._first(level, "restriction"))]


@dataclass
class Forecast:
    date: dt.date
    goods: list[GoodsForecast]
    days: int = FORECAST_DAYS

    @property
    def flags_coming(self) -> list[Crossing]:
        """Every goods' coming flags, soonest first."""
        crossings = [c for g in self.goods for c in g.flags_coming]
        return sorted(crossings, key=lambda c: (c.date, c.shop, c.goods, c.level))

    @property
    def restrictions_coming(self) -> list[Crossing]:
        crossings = [c for g in self.goods for c in g.restrictions_coming]
        return sorted(crossings, key=lambda c: (c.date, c.shop, c.goods, c.level))


def _qn(model, name: str) -> str:
    return connection.ops.quote_name(model._meta.get_field(name).column)


def _refunding_states() -> list[str]:
    """The states an open case leaves by itself for `refunded` (SPEC §2.3: waiting for the merchant)."""
    return sorted(str(s) for s, t in automatic_transitions().items() if t.target == State.REFUNDED)


def _projected_refunds_sql(states: list[str]) -> tuple[str, dict]:
    """The refunds of the projection, as rows with the refund table's columns: stored ones, and
    one per open case that refunds itself at its deadline. `projected` tells them apart."""
    tables = table_names()
    r = {name: _qn(Refund, name) for name in ("case", "order", "goods", "reason_class", "intervened", "liable")}
    reason_class = (
        f"CASE c.{_qn(AfterSalesCase, 'reason')} "
        + " ".join(f"WHEN %(reason_{i})s THEN %(class_{i})s" for i in range(len(REASON_CLASS)))
        + " END"
    )
    params = {f"reason_{i}": str(reason) for i, reason in enumerate(REASON_CLASS)}
    params |= {f"class_{i}": str(c) for i, c in enumerate(REASON_CLASS.values())}
    params |= {f"state_{i}": state for i, state in enumerate(states)} | figure_sql_params()
    in_states = ", ".join(f"%(state_{i})s" for i in range(len(states))) or "NULL"
    refunded_at, due_at = _qn(Refund, "refunded_at"), _qn(AfterSalesCase, "due_at")
    # Only the refunds the quality figure counts, by its own condition over the stored rows and the
    # projected ones alike: the forecast is of the quality figures, and the other refunds would
    # only cost each projected day their scan.
    quality = QUALITY_REFUND.sql_condition()
    sql = f"""
CREATE TEMPORARY TABLE {_REFUNDS} AS
SELECT r.{r["case"]} AS {r["case"]}, r.{r["order"]} AS {r["order"]}, r.{r["goods"]} AS {r["goods"]},
    r.{r["reason_class"]} AS {r["reason_class"]}, r.{r["intervened"]} AS {r["intervened"]},
    r.{r["liable"]} AS {r["liable"]}, r.{refunded_at} AS {refunded_at}, 0 AS projected
FROM {tables["refund"]} r
WHERE r.{refunded_at} >= %(first)s AND r.{refunded_at} < %(last)s AND r.{r["goods"]} IN (SELECT id FROM {_GOODS})
    AND {quality}
UNION ALL
SELECT * FROM (
    SELECT c.id AS {r["case"]}, c.{_qn(AfterSalesCase, "order")} AS {r["order"]},
        o.{_qn(Order, "goods")} AS {r["goods"]}, {reason_class} AS {r["reason_class"]},
        c.{_qn(AfterSalesCase, "intervened_at")} IS NOT NULL AS {r["intervened"]},
        c.{_qn(AfterSalesCase, "liable")} AS {r["liable"]}, c.{due_at} AS {refunded_at}, 1 AS projected
    FROM {tables["case"]} c JOIN {tables["order"]} o ON o.id = c.{_qn(AfterSalesCase, "order")}
    WHERE c.{_qn(AfterSalesCase, "state")} IN ({in_states}) AND c.{due_at} >= %(first)s AND c.{due_at} < %(last)s
        AND o.{_qn(Order, "goods")} IN (SELECT id FROM {_GOODS})
) projected
WHERE {quality}
"""
    return sql, params


def _none_of(model) -> str:
    """A relation with the table's columns and no rows: the sources the forecast does not project."""
    return f"(SELECT * FROM {connection.ops.quote_name(model._meta.db_table)} WHERE 1 = 0)"


def _inputs(goods_snapshot: str) -> Inputs:
    sources = {s.model: _none_of(s.model) for f in GOODS_FIGURES if isinstance(f, AnyOf) for s in f.sources}
    return Inputs(
        goods=_GOODS,
        grouped=f"SELECT * FROM {_HELD}",
        rows={Refund: _REFUNDS},
        goods_snapshot=goods_snapshot,
        source_rows=sources,
        key_order=False,  # read back by goods, not inserted into the snapshot's key
    )


def _held_sql(day: dt.date) -> str:
    """The goods' grouped orders of day D's window: the stored snapshot's when day D has one (the
    figures of that day, as export_metrics reads them), else counted as the snapshot counts them."""
    if not GoodsDaySnapshot.objects.filter(date=day).exists():
        return grouped_sql(goods=_GOODS)
    # By the snapshot's whole key: a day just written has no statistics yet, and matching by goods
    # alone was planned as a loop over the day's rows for each goods.
    snapshot = table_names()["goods_snapshot"]
    return (
        f"SELECT s.goods_id, s.grouped_orders AS grouped, s.day_grouped_orders AS day_grouped "
        f"FROM {_GOODS} g JOIN {snapshot} s ON s.date = %(date)s AND s.shop_id = g.shop_id AND s.goods_id = g.id"
    )


def _analyze(cursor, *tables: str) -> None:
    """Statistics for the planner, which knows nothing of a fresh temporary table (PostgreSQL)."""
    if connection.vendor == "postgresql":
        for table in tables:
            cursor.execute(f"ANALYZE {table}")


def _drop(cursor) -> None:
    for table in _TEMPORARY:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")


def _project(cursor, day: dt.date, shop: Shop | None, consecutive_days: int) -> None:
    """Fill the temporary tables: the goods in reach, the held denominators, the projected
    refunds and the goods rows of D … D+7."""
    goods, category = connection.ops.quote_name(Goods._meta.db_table), _qn(Goods, "category")
    shop_id = _qn(Goods, "shop")
    scope = ""
    if shop is not None:  # the category figures need every goods of the shop's categories
        scope = f" WHERE {category} IN (SELECT {category} FROM {goods} WHERE {shop_id} = %(shop)s)"
    columns = f"id, {shop_id} AS shop_id, {category} AS category"
    cursor.execute(
        f"CREATE TEMPORARY TABLE {_GOODS} AS SELECT {columns} FROM {goods}{scope}", {"shop": getattr(shop, "pk", None)}
    )
    _analyze(cursor, _GOODS)
    now = timezone.now()
    held = day_params(day, now, consecutive_days)
    cursor.execute(f"CREATE TEMPORARY TABLE {_HELD} AS {_held_sql(day)}", held)
    last = day + dt.timedelta(days=FORECAST_DAYS)
    sql, params = _projected_refunds_sql(_refunding_states())
    adapt = connection.ops.adapt_datetimefield_value
    params |= {"first": adapt(window_for(day).start), "last": adapt(window_for(last).end)}
    cursor.execute(sql, params)
    # each day groups its window's refunds by goods and order, as refund_goods_order_at serves the
    # daily job
    cursor.execute(f"CREATE INDEX {_REFUNDS}_goods_order ON {_REFUNDS} (goods_id, order_id, refunded_at)")
    _analyze(cursor, _HELD, _REFUNDS)
    # Kept of each day: the goods read back (the shop's, or every goods for the whole platform) and
    # the flagged ones, whose streaks the next day carries on.
    kept = "" if shop is None else " WHERE r.shop_id = %(shop)s OR r.streak_3x > 0 OR r.logistics_streak > 0"
    for offset in range(FORECAST_DAYS + 1):
        date = day + dt.timedelta(days=offset)
        rows = goods_rows_sql(_inputs(table_names()["goods_snapshot"] if offset == 0 else _DAYS))
        params = day_params(date, now, consecutive_days) | {"shop": getattr(shop, "pk", None)}
        select = f"SELECT {GOODS_COLUMNS}, %(date)s AS date FROM ({rows}) r{kept}"
        if offset == 0:
            cursor.execute(f"CREATE TEMPORARY TABLE {_DAYS} AS {select}", params)
            # the next day reads only this day's flagged goods, as the snapshot's partial index
            # goods_snapshot_flagged serves the daily job
            cursor.execute(
                f"CREATE INDEX {_DAYS}_flagged ON {_DAYS} (date) WHERE streak_3x > 0 OR logistics_streak > 0"
            )
        else:
            cursor.execute(f"INSERT INTO {_DAYS} ({GOODS_COLUMNS}, date) {select}", params)


_DAY_COLUMNS = (
    "grouped_orders",
    "quality_refund_orders",
    "category_grouped_orders",
    "category_quality_refund_orders",
    "category_goods",
    "flag",
    "streak_3x",
    "streak_5x",
    "restriction",
    "restricted_since",
)


def _read(cursor, shop: Shop | None) -> list[GoodsForecast]:
    """The projected rows of the shop's goods, or (for the whole platform) of the goods flagged or
    restricted on some projected day, with the open cases behind each day's quality figure."""
    ops = connection.ops
    where, params = "d.shop_id = %(shop)s", {"shop": getattr(shop, "pk", None)}
    if shop is None:
        where = f"d.goods_id IN (SELECT goods_id FROM {_DAYS} WHERE flag <> '' OR restriction <> '')"
    goods = ops.quote_name(Goods._meta.db_table)
    shops = ops.quote_name(Shop._meta.db_table)
    cursor.execute(
        f"SELECT d.goods_id, g.{_qn(Goods, 'platform_id')}, s.{_qn(Shop, 'platform_id')}, g.{_qn(Goods, 'name')}, "
        f"d.category, d.date, {', '.join(f'd.{c}' for c in _DAY_COLUMNS)} "
        f"FROM {_DAYS} d JOIN {goods} g ON g.id = d.goods_id JOIN {shops} s ON s.id = d.shop_id "
        f"WHERE {where} ORDER BY s.{_qn(Shop, 'platform_id')}, g.{_qn(Goods, 'platform_id')}, d.date",
        params,
    )
    rows = cursor.fetchall()
    cases = _projected_quality_cases(cursor, {row[0] for row in rows})
    found: dict[int, GoodsForecast] = {}
    field = GoodsDaySnapshot._meta.get_field("restricted_since")
    for goods_id, goods_platform_id, shop_platform_id, name, category, date, *figures in rows:
        forecast = found.setdefault(goods_id, GoodsForecast(goods_platform_id, shop_platform_id, name, category))
        date = date if isinstance(date, dt.date) else dt.date.fromisoformat(date)
        values = dict(zip(_DAY_COLUMNS, figures, strict=True))
        values["restricted_since"] = field.to_python(values["restricted_since"])
        window = window_for(date)
        counted = tuple(c for at, c in cases.get(goods_id, ()) if window.start <= at < window.end)
        forecast.days.append(ProjectedDay(date=date, cases=counted, **values))
    return list(found.values())


def _projected_quality_cases(cursor, goods_ids: set[int]) -> dict[int, list[tuple[dt.datetime, str]]]:
    """The goods' projected refunds that count for the quality figure, by goods: (when, case id)."""
    if not goods_ids:
        return {}
    cases = connection.ops.quote_name(AfterSalesCase._meta.db_table)
    refunded_at = _qn(Refund, "refunded_at")
    cursor.execute(
        f"SELECT p.{_qn(Refund, 'goods')}, p.{refunded_at}, c.{_qn(AfterSalesCase, 'platform_id')} "
        f"FROM {_REFUNDS} p JOIN {cases} c ON c.id = p.{_qn(Refund, 'case')} "
        f"WHERE p.projected = 1 AND {QUALITY_REFUND.sql_condition()} "
        f"ORDER BY p.{refunded_at}, c.{_qn(AfterSalesCase, 'platform_id')}",
        figure_sql_params(),
    )
    found: dict[int, list[tuple[dt.datetime, str]]] = {}
    to_python = Refund._meta.get_field("refunded_at")
    for goods_id, at, case in cursor.fetchall():
        if goods_id in goods_ids:
            found.setdefault(goods_id, []).append((_moment(at, to_python), case))
    return found


def _moment(value, field) -> dt.datetime:
    """A time read from a temporary table: SQLite hands its text back (no declared type)."""
    if isinstance(value, str):
        return connection.ops.convert_datetimefield_value(value, field, connection)
    return value


def goods_forecast(*, day: dt.date, shop: Shop | None = None, consecutive_days: int | None = None) -> Forecast:
    """The forecast made now for day D (the last complete day) and D+1 … D+7 (SPEC §5.2): for one
    shop's goods, or for every goods the projection flags or restricts on some day."""
    if consecutive_days is None:
        consecutive_days = settings.GOODS_RESTRICTION_CONSECUTIVE_DAYS
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # as for the snapshot (metrics.services): compiling these plans costs more than running
            # them, and a parallel plan's workers cost more to start than these small tables take
            cursor.execute(
                "SELECT set_config('jit', 'off', true), set_config('max_parallel_workers_per_gather', '0', true)"
            )
        _drop(cursor)
        _project(cursor, day, shop, consecutive_days)
        goods = _read(cursor, shop)
        _drop(cursor)  # on an error, the rollback drops them: they were created in this transaction
    return Forecast(date=day, goods=goods)


def export_document(forecast: Forecast) -> dict:
    """SPEC §9 `export_forecast`: one row per goods and level not held on day D but reached."""
    return {
        "date": forecast.date.isoformat(),
        "days": forecast.days,
        "goods": [
            {"goods": c.goods, "shop": c.shop, "level": c.level, "date": c.date.isoformat(), "cases": list(c.cases)}
            for c in forecast.flags_coming
        ],
    }
