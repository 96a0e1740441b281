# Its own migration: on PostgreSQL the backfill leaves deferred foreign-key checks pending,
# and a table with pending trigger events cannot be altered in the same transaction.

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
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='refunds', to='shops.goods'),
        ),
    ]
