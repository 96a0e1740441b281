"""The one export helper (pddadmin.exports): jsonl, csv and xlsx, the same formula neutralising, and
numbers kept numbers; every export command and download writes through it."""

import io
from decimal import Decimal
from unittest import mock

import openpyxl
import pytest
from django.core.management import call_command
from django.urls import reverse

from pddadmin import exports
from pddadmin.exports import safe_cell, write_rows

COLUMNS = ("id", "name", "amount", "rate", "flag", "note")
ROWS = [
    {
        "id": "=HYPERLINK(1)",
        "name": "绿茶",
        "amount": "-100.00",
        "rate": Decimal("0.250000"),
        "flag": True,
        "note": None,
    },
    ("@S1", "+1+1", "59.90", None, False, "-2+3"),
]


@pytest.mark.parametrize("value", ["=1+1", "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\rCR", "-", "+", "-1e5", "- 5"])
def test_text_a_spreadsheet_would_run_is_neutralised(value):
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize(
    "value", ["-100.00", "+5", "-3", "12", "0.5", "x=1", "", "绿茶", 5, -5, Decimal("-1.50"), None]
)
def test_plain_numbers_and_other_values_pass(value):
    assert safe_cell(value) == value


def test_jsonl_is_one_object_a_line_with_values_as_given():
    out = io.StringIO()
    assert write_rows(out, ROWS[:1], columns=("id", "name", "amount", "flag", "note"), fmt="jsonl") == 1
    assert out.getvalue() == (
        '{"id": "=HYPERLINK(1)", "name": "绿茶", "amount": "-100.00", "flag": true, "note": null}\n'
    )


def test_csv_neutralises_text_and_keeps_numbers():
    out = io.StringIO()
    assert write_rows(out, ROWS, columns=COLUMNS, fmt="csv") == 2
    assert out.getvalue() == (
        "id,name,amount,rate,flag,note\n'=HYPERLINK(1),绿茶,-100.00,0.250000,true,\n'@S1,'+1+1,59.90,,false,'-2+3\n"
    )


@pytest.mark.django_db
def test_a_download_csv_starts_with_the_byte_order_mark_and_a_command_csv_does_not():
    out = io.StringIO()
    write_rows(out, ROWS, columns=COLUMNS, fmt="csv", bom=True)
    assert out.getvalue().startswith("\ufeffid,name,")
    plain = io.StringIO()
    call_command("export_cases", "--format", "csv", stdout=plain, stderr=io.StringIO())
    assert plain.getvalue().startswith("case,")


def test_csv_line_end_is_the_callers():
    out = io.StringIO()
    write_rows(out, ROWS[1:], columns=COLUMNS, fmt="csv", line_end="\r\n")
    assert out.getvalue().count("\r\n") == 2


def test_xlsx_keeps_types_and_runs_no_formula():
    out = io.BytesIO()
    assert write_rows(out, ROWS, columns=COLUMNS, fmt="xlsx", title="t") == 2
    sheet = openpyxl.load_workbook(io.BytesIO(out.getvalue())).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values == [
        list(COLUMNS),
        ["'=HYPERLINK(1)", "绿茶", "-100.00", 0.25, True, None],
        ["'@S1", "'+1+1", "59.90", None, False, "'-2+3"],
    ]
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    assert sheet.title == "t"


def test_an_unknown_format_is_refused():
    with pytest.raises(ValueError, match="unknown export format"):
        write_rows(io.StringIO(), [], columns=COLUMNS, fmt="yaml")


# --- every command and download writes through it --------------------------------------------------


def spy(target: str):
    return mock.patch(target, wraps=write_rows)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("command", "args", "target"),
    [
        ("export_cases", ["--format", "csv"], "aftersales.case_exports.write_rows"),
        ("export_cases", [], "aftersales.case_exports.write_rows"),
        ("export_payouts", ["--format", "csv"], "compensation.management.commands.export_payouts.write_rows"),
        ("export_payouts", [], "compensation.management.commands.export_payouts.write_rows"),
        (
            "export_metrics",
            ["--date", "2026-03-31", "--format", "csv"],
            "metrics.management.commands.export_metrics.write_rows",
        ),
    ],
)
def test_each_export_command_writes_through_the_helper(command, args, target):
    with spy(target) as written:
        call_command(command, *args, stdout=io.StringIO(), stderr=io.StringIO())
    assert written.call_count == 1


@pytest.fixture
def staff_client(client, owner, shop):
    from tests import factories

    factories.GoodsFactory(shop=shop)
    client.force_login(owner)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_each_download_writes_through_the_helper(staff_client, reviewer, shop, fmt):
    from compensation.models import Account
    from compensation.services.ledger import books_open
    from pddadmin.shops.models import Shop

    books_open(shops=Shop.objects.filter(pk=shop.pk))
    account = Account.objects.filter(shop=shop).first()
    urls = [
        reverse("compensation:payouts") + f"?export={fmt}",
        reverse("compensation:statement", args=[account.pk]) + f"?export={fmt}",
        reverse("metrics:dashboard") + f"?shop={shop.pk}&date=2026-03-31&_export={fmt}",
    ]
    for url in urls:
        with spy("pddadmin.exports.write_rows") as written:
            response = staff_client.get(url)
        assert response.status_code == 200, url
        assert response["Content-Type"] == exports.CONTENT_TYPES[fmt], url
        assert written.call_args.kwargs["fmt"] == fmt, url
        # #18.5: a CSV for a person opens in Excel with its Chinese intact only with the mark
        assert response.content.startswith(b"\xef\xbb\xbf") == (fmt == "csv"), url
    staff_client.force_login(reviewer)
    platform_urls = (
        reverse("metrics:platform") + f"?date=2026-03-31&_export={fmt}",
        reverse("review:queue") + f"?_export={fmt}",
    )
    for url in platform_urls:
        with spy("pddadmin.exports.write_rows") as written:
            response = staff_client.get(url)
        assert response.status_code == 200, url
        assert written.call_args.kwargs["fmt"] == fmt, url
