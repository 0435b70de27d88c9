"""Fill the rollup from the history that existed before it, so the home page has the past too."""

from typing import Any

from django.db import migrations


def rebuild(apps: Any, schema_editor: Any) -> None:
    # The from-scratch SQL reads only tables and columns these migrations depend on.
    from analytics import rollup_sql

    Merchant = apps.get_model("loyalty", "Merchant")
    with schema_editor.connection.cursor() as cursor:
        for merchant in Merchant.objects.order_by("pk"):
            params = {
                "merchant": merchant.pk,
                "tz": merchant.time_zone,
                "lock": rollup_sql.LOCK_CLASS,
            }
            cursor.execute(rollup_sql.EXCLUSIVE_LOCK_SQL, params)
            for statement in rollup_sql.REBUILD_SQL:
                cursor.execute(statement, params)


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0001_initial"),
        ("cards", "0006_program_reward_cost"),
        ("feedback", "0002_created_at_follows_the_clock"),
    ]

    operations = [migrations.RunPython(rebuild, migrations.RunPython.noop)]
