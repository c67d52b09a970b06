from django.db import migrations

from mission_control.db import append_only


class Migration(migrations.Migration):
    dependencies = [("governance", "0002_audit")]

    operations = [append_only("governance_auditentry")]
