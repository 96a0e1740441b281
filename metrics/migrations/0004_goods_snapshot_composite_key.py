# The goods snapshot keyed by (date, shop, goods) instead of a surrogate id plus two indexes:
# every index costs each of the 20,000 rows written a day. Django cannot change a primary key
# in place, so the table is rebuilt: a new one is created, the rows copied, the old one dropped.
# The goods rows also gain the refund numerators the shop rows are now summed from; days stored
# before carry 0 there (their shop rows are unaffected; re-running compute_metrics fills them).

import django.db.models.deletion
from django.db import migrations, models

COPIED = (
    "date, shop_id, goods_id, category, grouped_orders, quality_refund_orders, day_grouped_orders, "
    "day_quality_refund_orders, category_grouped_orders, category_quality_refund_orders, category_goods, "
    "flag, streak_3x, streak_5x, restriction, restricted_since, computed_at"
)
NEW = "dispute_refund_orders, day_dispute_refund_orders, logistics_anomaly_orders, day_logistics_anomaly_orders"
FLAG_CHOICES = [('', 'none'), ('over_3x', 'over 3× category'), ('over_5x', 'over 5× category')]


class Migration(migrations.Migration):

    dependencies = [
        ('metrics', '0003_goods_snapshot_date_first'),
        ('shops', '0004_order_goods_grouped'),
    ]

    operations = [
        migrations.RemoveIndex(model_name='goodsdaysnapshot', name='goods_snapshot_flagged'),
        migrations.CreateModel(
            name='GoodsDaySnapshotNext',
            fields=[
                ('pk', models.CompositePrimaryKey('date', 'shop', 'goods', blank=True, editable=False, primary_key=True, serialize=False)),
                ('category', models.CharField(max_length=100, verbose_name='category')),
                ('date', models.DateField(verbose_name='date')),
                ('grouped_orders', models.PositiveIntegerField(default=0, verbose_name='grouped orders')),
                ('quality_refund_orders', models.PositiveIntegerField(default=0, verbose_name='quality refund orders')),
                ('day_grouped_orders', models.PositiveIntegerField(default=0, verbose_name='grouped orders (day)')),
                ('day_quality_refund_orders', models.PositiveIntegerField(default=0, verbose_name='quality refund orders (day)')),
                ('dispute_refund_orders', models.PositiveIntegerField(default=0, verbose_name='dispute refund orders')),
                ('day_dispute_refund_orders', models.PositiveIntegerField(default=0, verbose_name='dispute refund orders (day)')),
                ('logistics_anomaly_orders', models.PositiveIntegerField(default=0, verbose_name='logistics anomaly orders')),
                ('day_logistics_anomaly_orders', models.PositiveIntegerField(default=0, verbose_name='logistics anomaly orders (day)')),
                ('category_grouped_orders', models.PositiveIntegerField(default=0, verbose_name='category grouped orders')),
                ('category_quality_refund_orders', models.PositiveIntegerField(default=0, verbose_name='category quality refund orders')),
                ('category_goods', models.PositiveIntegerField(default=0, verbose_name='category goods with grouped orders')),
                ('flag', models.CharField(blank=True, choices=FLAG_CHOICES, default='', max_length=8, verbose_name='flag')),
                ('streak_3x', models.PositiveIntegerField(default=0, verbose_name='days over 3×')),
                ('streak_5x', models.PositiveIntegerField(default=0, verbose_name='days over 5×')),
                ('restriction', models.CharField(blank=True, choices=FLAG_CHOICES, default='', max_length=8, verbose_name='restriction')),
                ('restricted_since', models.DateField(blank=True, null=True, verbose_name='restricted since')),
                ('computed_at', models.DateTimeField(verbose_name='computed at')),
                ('goods', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='shops.goods')),
                ('shop', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='shops.shop')),
            ],
            options={
                'verbose_name': 'goods daily snapshot',
                'verbose_name_plural': 'goods daily snapshots',
                'ordering': ['goods', '-date'],
                'indexes': [models.Index(condition=models.Q(('streak_3x__gt', 0)), fields=['date'], name='goods_snapshot_flagged')],
            },
        ),
        migrations.RunSQL(
            f"INSERT INTO metrics_goodsdaysnapshotnext ({COPIED}, {NEW}) "
            f"SELECT {COPIED}, 0, 0, 0, 0 FROM metrics_goodsdaysnapshot",
            f"INSERT INTO metrics_goodsdaysnapshot ({COPIED}) SELECT {COPIED} FROM metrics_goodsdaysnapshotnext",
        ),
        migrations.DeleteModel(name='GoodsDaySnapshot'),
        migrations.RenameModel(old_name='GoodsDaySnapshotNext', new_name='GoodsDaySnapshot'),
        migrations.AlterField(
            model_name='goodsdaysnapshot',
            name='goods',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='metric_snapshots', to='shops.goods'),
        ),
        migrations.AlterField(
            model_name='goodsdaysnapshot',
            name='shop',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='goods_metric_snapshots', to='shops.shop'),
        ),
    ]
