from django.apps import AppConfig


class TelemetryConfig(AppConfig):
    """Open protocols: OpenTelemetry traces in (OTLP/HTTP), Prometheus metrics out.

    A protocol adapter on top of the product: OTLP spans are translated into the ledger's own
    verbs (``executions.services``), and ``/metrics`` reads the rollups and small indexed counts
    the pages read. Nothing imports it.
    """

    name = "telemetry"
    default_auto_field = "django.db.models.BigAutoField"
