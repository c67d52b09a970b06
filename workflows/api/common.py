"""Small pieces the work app's views share."""

from rest_framework.exceptions import ValidationError


def flag(params, name: str) -> bool | None:
    """A boolean query parameter (``true``/``false``/``1``/``0``), None when absent."""
    raw = (params.get(name) or "").strip().lower()
    if not raw:
        return None
    if raw in {"1", "true", "yes"}:
        return True
    if raw in {"0", "false", "no"}:
        return False
    raise ValidationError({name: ["Use true or false."]})


def execution_body(execution) -> dict:
    """The ledger's own representation of an execution (the executions API's serializer)."""
    from executions.api.serializers import ExecutionSerializer

    return ExecutionSerializer(execution).data
