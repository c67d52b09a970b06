"""Step and cron runs carry their execution's ``created_at`` (the ledger's composite key once it is
partitioned by month, executions 0013); the single-column foreign keys go, the composite ones come in
0009. A run names both or neither (check constraint)."""

import django.db.models.deletion
from django.db import migrations, models


FILL = """
UPDATE {table} SET execution_created_at = (
  SELECT e.created_at FROM executions_execution e WHERE e.id = {table}.execution_id)
WHERE execution_id IS NOT NULL
"""


def fill(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        for table in ("workflows_steprun", "workflows_cronrun"):
            cursor.execute(FILL.format(table=table))


class Migration(migrations.Migration):

    dependencies = [
        ('executions', '0012_ledger_references'),
        ('workflows', '0007_cron_run_last_success_index'),
    ]

    operations = [
        migrations.AddField(
            model_name='cronrun',
            name='execution_created_at',
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name='steprun',
            name='execution_created_at',
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AlterField(
            model_name='cronrun',
            name='execution',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='executions.execution'),
        ),
        migrations.AlterField(
            model_name='steprun',
            name='execution',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='executions.execution'),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=False),
        migrations.AddConstraint(
            model_name='cronrun',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('execution__isnull', True), ('execution_created_at__isnull', True)), models.Q(('execution__isnull', False), ('execution_created_at__isnull', False)), _connector='OR'), name='cron_run_execution_month'),
        ),
        migrations.AddConstraint(
            model_name='steprun',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('execution__isnull', True), ('execution_created_at__isnull', True)), models.Q(('execution__isnull', False), ('execution_created_at__isnull', False)), _connector='OR'), name='step_run_execution_month'),
        ),
    ]
