# A plain CREATE INDEX (not CONCURRENTLY): it blocks only the autoscaling sweep's inserts while it
# builds, and a sweep that waits a few seconds loses nothing (its period's decision is taken late).
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("autoscaling", "0001_initial"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="autoscaledecision",
            index=models.Index(fields=["at"], name="autoscale_decision_at"),
        ),
    ]
