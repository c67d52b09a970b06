"""Repair for 0013 as first landed: it renamed the primary-key indexes of the tables the ledger's
foreign keys point at (``agents_agent_pkey``, ``governance_business_pkey``) with its history
suffix ``_h``. Harmless to queries, but they get their names back (the index and its constraint)."""

from django.db import migrations

NAMES = ("agents_agent_pkey", "governance_business_pkey")


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for name in NAMES:
            cursor.execute("SELECT to_regclass(%s) IS NULL AND to_regclass(%s) IS NOT NULL", [name, f"{name}_h"])
            if cursor.fetchone()[0]:
                cursor.execute(f"ALTER INDEX {name}_h RENAME TO {name}")


class Migration(migrations.Migration):
    dependencies = [("executions", "0014_archived_months")]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop, elidable=False)]
