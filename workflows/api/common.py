"""Small pieces the workflows API views share."""

from mission_control.params import parse_flag


def flag(params, name: str) -> bool | None:
    """A boolean query parameter (``true``/``false``/``1``/``0``), None when absent."""
    return parse_flag(params.get(name), name=name)


def execution_body(execution) -> dict:
    """The ledger's own representation of an execution (the executions API's serializer)."""
    from executions.api.serializers import ExecutionSerializer

    return ExecutionSerializer(execution).data
