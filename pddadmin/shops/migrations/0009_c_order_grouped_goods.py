# The daily metrics' window-first access path (#20.3): (grouped_at, goods) replaces
# (goods, grouped_at), which made one day's compute_metrics read every order ever grouped.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("shops", "0008_field_labels"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="order", name="order_goods_grouped"),
        migrations.AddIndex(
            model_name="order",
            index=models.Index(fields=["grouped_at", "goods"], name="order_grouped_goods"),
        ),
    ]
