"""The platform reviewers' group: membership makes a user platform staff (selectors.is_platform_staff)."""

from django.db import migrations

REVIEWERS_GROUP = "reviewers"


def create_reviewers_group(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    # get_or_create: re-running, or a group made by hand earlier, changes nothing.
    Group.objects.using(schema_editor.connection.alias).get_or_create(name=REVIEWERS_GROUP)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("shops", "0001_initial"),
    ]

    # Reversing keeps the group: it may hold reviewers and their permissions by then.
    operations = [migrations.RunPython(create_reviewers_group, migrations.RunPython.noop)]
