"""Drop four foreign-key indexes whose column leads a composite index (issue #20 point 2): the
case's order (case_order_state), the case's shop (the shop-first indexes), the log row's case
(transition_case_at) and the refund's shop (refund_shop_at). The plans showing every look-up by
those columns served by the composite are in bench/results/process_deadlines.md.

Only the four indexes are dropped, by their names, in SQL of our own: Django's AlterField(db_index
=False) on the case's order would also drop the partial unique index one_open_case_per_order (an
index on the same single column) and not recreate it, and on SQLite it rebuilds the tables.
"""

import django.db.models.deletion
from django.db import migrations, models

DROPPED = [
    ("aftersales_aftersalescase_order_id_268decfa", "aftersales_aftersalescase", "order_id"),
    ("aftersales_aftersalescase_shop_id_62338bb7", "aftersales_aftersalescase", "shop_id"),
    ("aftersales_casetransition_case_id_5ac4ab8d", "aftersales_casetransition", "case_id"),
    ("aftersales_refund_shop_id_95788142", "aftersales_refund", "shop_id"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("aftersales", "0012_b1_case_due_walk"),
        ("shops", "0009_c_order_grouped_goods"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{name}"', reverse_sql=f'CREATE INDEX "{name}" ON "{table}" ("{column}")'
                )
                for name, table, column in DROPPED
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="aftersalescase",
                    name="order",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="cases",
                        to="shops.order",
                        verbose_name="order",
                    ),
                ),
                migrations.AlterField(
                    model_name="aftersalescase",
                    name="shop",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="cases",
                        to="shops.shop",
                        verbose_name="shop",
                    ),
                ),
                migrations.AlterField(
                    model_name="casetransition",
                    name="case",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="transitions",
                        to="aftersales.aftersalescase",
                        verbose_name="case",
                    ),
                ),
                migrations.AlterField(
                    model_name="refund",
                    name="shop",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="refunds",
                        to="shops.shop",
                        verbose_name="shop",
                    ),
                ),
            ],
        )
    ]
