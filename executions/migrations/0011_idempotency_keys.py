"""Idempotency keys move to their own small table (issue 19 item 3, step 1).

A monthly-partitioned ledger cannot keep ``UNIQUE (agent, external_id)``: a unique index on a
partitioned table must contain the partition key. ``IdempotencyKey`` holds the rule instead, for
``external_id`` and ``claim_id`` alike, on every database. The existing keys are copied over in one
statement each; the ledger keeps a plain lookup index on ``(agent, external_id)`` for the explorer.
"""

import django.db.models.deletion
from django.db import migrations, models

from mission_control.db import append_only

BACKFILL = """
INSERT INTO executions_idempotencykey (agent_id, kind, value, execution_id, execution_created_at)
SELECT agent_id, '{kind}', {kind}, id, created_at FROM executions_execution WHERE {kind} IS NOT NULL
"""


def backfill(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        for kind in ("external_id", "claim_id"):
            cursor.execute(BACKFILL.format(kind=kind))


class Migration(migrations.Migration):
    dependencies = [
        ("agents", "0004_brain_moves_out"),
        ("executions", "0010_routing"),
        ("governance", "0007_constraint_refusal_words"),
    ]

    operations = [
        migrations.CreateModel(
            name="IdempotencyKey",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "kind",
                    models.CharField(
                        choices=[("external_id", "external_id"), ("claim_id", "claim_id")], max_length=12
                    ),
                ),
                ("value", models.CharField(max_length=200)),
                ("execution_id", models.BigIntegerField()),
                ("execution_created_at", models.DateTimeField()),
                (
                    "agent",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="agents.agent",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("agent", "kind", "value"), name="uniq_idempotency_key")
                ]
            },
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=False),
        append_only("executions_idempotencykey"),
        migrations.RemoveConstraint(model_name="execution", name="uniq_execution_external_id"),
        migrations.RemoveConstraint(model_name="execution", name="uniq_execution_claim_id"),
        migrations.AddIndex(
            model_name="execution",
            index=models.Index(
                condition=models.Q(("external_id__isnull", False)),
                fields=["agent", "external_id"],
                name="execution_external_id",
            ),
        ),
    ]
