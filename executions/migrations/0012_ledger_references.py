"""Rows that point at an execution carry its ``created_at`` too (issue 19 item 3, step 2).

The ledger is about to be partitioned by month (0013): its key becomes ``(id, created_at)``, so the
logs (partitioned by the same month), the cost corrections and, in workflows, the step and cron
runs get ``execution_created_at`` for a composite foreign key; Django's own single-column
constraints go (``db_constraint=False``). The existing rows are filled with one UPDATE per table
(the append-only triggers are off for that statement only, inside this migration's transaction).
``replay_of``/``retry_of`` keep no database constraint: a later month may point into an archived one.
"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


FILL_PG = """
ALTER TABLE {table} DISABLE TRIGGER {table}_append_only_trg;
UPDATE {table} t SET execution_created_at = e.created_at
  FROM executions_execution e WHERE e.id = t.execution_id AND t.execution_created_at IS DISTINCT FROM e.created_at;
ALTER TABLE {table} ENABLE TRIGGER {table}_append_only_trg;
"""
FILL = """
UPDATE {table} SET execution_created_at = (
  SELECT e.created_at FROM executions_execution e WHERE e.id = {table}.execution_id)
"""


def fill(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    with schema_editor.connection.cursor() as cursor:
        for table in ("executions_executionlog", "executions_costcorrection"):
            cursor.execute((FILL_PG if postgres else FILL).format(table=table))


class Migration(migrations.Migration):

    dependencies = [
        ('executions', '0011_idempotency_keys'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='executionlog',
            name='uniq_log_seq',
        ),
        migrations.RemoveConstraint(
            model_name='executionlog',
            name='uniq_log_client_id',
        ),
        migrations.AddField(
            model_name='costcorrection',
            name='execution_created_at',
            field=models.DateTimeField(default=django.utils.timezone.now, help_text="Its execution's created_at (composite key)."),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='executionlog',
            name='execution_created_at',
            field=models.DateTimeField(default=django.utils.timezone.now, help_text="Its execution's created_at: the month it lives in."),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name='costcorrection',
            name='execution',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='cost_corrections', to='executions.execution'),
        ),
        migrations.AlterField(
            model_name='execution',
            name='replay_of',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='replays', to='executions.execution'),
        ),
        migrations.AlterField(
            model_name='execution',
            name='retry_of',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='retries', to='executions.execution'),
        ),
        migrations.AlterField(
            model_name='executionlog',
            name='execution',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='logs', to='executions.execution'),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=False),
        migrations.AddConstraint(
            model_name='executionlog',
            constraint=models.UniqueConstraint(fields=('execution', 'execution_created_at', 'seq'), name='uniq_log_seq'),
        ),
        migrations.AddConstraint(
            model_name='executionlog',
            constraint=models.UniqueConstraint(condition=models.Q(('client_id__isnull', False)), fields=('execution', 'execution_created_at', 'client_id'), name='uniq_log_client_id'),
        ),
    ]
