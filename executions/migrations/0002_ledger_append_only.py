from django.db import migrations

from mission_control.db import append_only


class Migration(migrations.Migration):
    dependencies = [("executions", "0001_initial")]

    operations = [
        append_only("executions_execution", frozen_when="OLD.status IN ('success', 'failed', 'aborted')"),
        append_only("executions_executionlog"),
    ]
