from django.db import migrations

from mission_control.db import append_only


class Migration(migrations.Migration):
    dependencies = [("mission_control", "0001_initial")]

    operations = [append_only("mission_control_event")]
