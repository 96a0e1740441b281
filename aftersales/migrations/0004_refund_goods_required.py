# Its own migration: on PostgreSQL the backfill leaves deferred foreign-key checks pending,
# and a table with pending trigger events cannot be altered in the same transaction. The goods
# index is the composite one the daily metrics read (see Refund.Meta).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('aftersales', '0003_refund_goods'),
    ]

    operations = [
        migrations.AlterField(
            model_name='refund',
            name='goods',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='refunds', to='shops.goods'),
        ),
        migrations.AddIndex(
            model_name='refund',
            index=models.Index(fields=['goods', 'order', 'refunded_at'], include=('reason_class', 'intervened', 'liable'), name='refund_goods_order_at'),
        ),
    ]
