"""CSV/XLSX export of the filtered queue, with spreadsheet formulas neutralised."""

import csv
import io

import openpyxl
import pytest
from django.urls import reverse

from pddadmin.exports import safe_cell
from tests import factories
from tests.review.factories import EscalatedCaseFactory

pytestmark = pytest.mark.django_db
QUEUE = reverse("review:queue")
DANGEROUS = ["=HYPERLINK(\"http://evil\",\"x\")", "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\rCR"]


@pytest.mark.parametrize("value", DANGEROUS)
def test_safe_cell_prefixes_formula_starts(value):
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["Shop 1", "", "'quoted", "a=b", 5, None])
def test_safe_cell_leaves_other_values_alone(value):
    assert safe_cell(value) == value


@pytest.fixture
def cases():
    evil = factories.ShopFactory(name="=HYPERLINK(\"http://evil\",\"x\")", platform_id="@S1")
    plain = factories.ShopFactory(name="Plain shop")
    return [
        EscalatedCaseFactory(order=factories.OrderFactory(goods=factories.GoodsFactory(shop=evil)),
                             platform_id="-RC1", reason="counterfeit"),
        EscalatedCaseFactory(order=factories.OrderFactory(goods=factories.GoodsFactory(shop=plain)),
                             platform_id="RC2", reason="other"),
    ]


def test_csv_export_of_the_filtered_queue_is_injection_safe(client, login, reviewer, cases):
    login(reviewer)
    response = client.get(QUEUE + "?reason=counterfeit&_export=csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"] and ".csv" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert len(rows) == 2  # header + the one counterfeit case: the export follows the filters
    record = dict(zip(rows[0], rows[1], strict=True))
    assert record[next(h for h in rows[0] if h in ("case", "售后单"))] == "'-RC1"
    assert any(value == "'=HYPERLINK(\"http://evil\",\"x\") (@S1)" for value in record.values())
    assert not any(value.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for value in row)
    assert "Claim" not in rows[0]  # the action column is not exported


def test_xlsx_export_is_injection_safe(client, login, reviewer, cases):
    login(reviewer)
    response = client.get(QUEUE + "?_export=xlsx")
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert len(values) == 3
    flat = [v for row in values for v in row if isinstance(v, str)]
    assert "'-RC1" in flat and "RC2" in flat
    assert not any(v.startswith(("=", "+", "-", "@", "\t", "\r")) for v in flat)
    # openpyxl marks a formula cell with data_type "f": none may be one.
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
