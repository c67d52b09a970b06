"""The served schema tells the truth, for every operation at once (no per-view annotations):

* errors: the shared error shape (``Error``) under each status an operation can answer with;
* lists: a GET handler that paginates is documented as ``{"results": [...], "next"}``, and one that
  does not is never wrapped in a page;
* request bodies of serializers that refuse unknown fields say so (``additionalProperties: false``).

Checked by ``tests/foundation/test_schemathesis.py``, which calls every operation and fails on any
response the schema does not describe.
"""

import functools
import inspect

from django.core.exceptions import FieldDoesNotExist
from drf_spectacular.openapi import AutoSchema
from rest_framework.mixins import ListModelMixin

from mission_control.api.serializers import StrictSerializer

ERROR_SCHEMA = {
    "type": "object",
    "description": "Every error: a stable machine code and a sentence for people.",
    "required": ["error", "detail"],
    "properties": {
        "error": {"type": "string", "description": "stable code, e.g. validation_error, not_found"},
        "detail": {"type": "string"},
        "fields": {
            "type": "object",
            "additionalProperties": True,
            "description": "validation errors: field name -> messages",
        },
        "parameter": {"type": "string", "description": "invalid_parameter: the query parameter at fault"},
        "path": {"type": "string", "description": "too_deep, invalid_characters: where in the JSON body"},
        "step": {"type": "string", "nullable": True, "description": "invalid_definition: the step at fault"},
        "retry_after": {"type": "integer", "description": "rate_limited: seconds to wait"},
    },
    "additionalProperties": True,
}

# status -> (description, applies to (method, operation) )
ERRORS = {
    "400": "Bad input: `validation_error` (with `fields`), `invalid_parameter` (with `parameter`), "
    "`too_deep`, `invalid_characters`, `invalid_value`, `malformed_json`, or the operation's own codes.",
    "401": "No valid credentials: `not_authenticated`, `authentication_failed`.",
    "402": "`budget_exceeded`: a budget in scope cannot cover the work.",
    "403": "Credentials without the right: `permission_denied`, `restriction_<rule>`.",
    "404": "`not_found`: no such object, or one of a business the caller does not belong to.",
    "409": "A conflict with the current state (`immutable`, `name_taken`, `write_conflict`, ...).",
    "413": "`payload_too_large`: the body is over the endpoint's limit.",
    "415": "`unsupported_media_type`: bodies are JSON.",
    "423": "`emergency_stop`: an emergency stop holds all new work in scope.",
    "429": "`rate_limited`, with a `Retry-After` header.",
    "503": "A dependency (database, cache, broker) is unavailable; retry later.",
}


@functools.cache
def _source(func) -> str:
    try:
        return inspect.getsource(func)
    except (OSError, TypeError):
        return ""


def _model_field(field):
    """The model column behind a serializer field (``agent`` or ``agent_id``), if there is one."""
    model = getattr(getattr(field.parent, "Meta", None), "model", None)
    source = getattr(field, "source", None)
    if model is None or not isinstance(source, str) or "." in source or source == "*":
        return None
    try:
        found = model._meta.get_field(source)
    except FieldDoesNotExist:
        return None
    return found if getattr(found, "concrete", False) else None  # not a reverse relation


def _calls_paginator(func) -> bool:
    """The function pages its answer, itself or through a module function it calls (one level)."""
    if "paginate_queryset" in _source(func):
        return True
    names = getattr(getattr(func, "__code__", None), "co_names", ())
    scope = getattr(func, "__globals__", {})
    return any(inspect.isfunction(scope.get(n)) and "paginate_queryset" in _source(scope[n]) for n in names)


def paginates(view, method: str) -> bool:
    """Whether the view's handler for ``method`` answers with a page (reads the handler's code)."""
    if method != "GET":
        return False
    handler = getattr(type(view), "get", None)
    if _calls_paginator(handler):
        return True
    source = _source(handler)
    return isinstance(view, ListModelMixin) and ("self.list(" in source or "super().get(" in source)


class MissionControlAutoSchema(AutoSchema):
    def _is_list_view(self, serializer=None) -> bool:
        if paginates(self.view, self.method):
            return True
        return super()._is_list_view(serializer)

    def get_filter_backends(self):
        # Filters are documented as explicit parameters; only a view with a filterset has more to say.
        if getattr(self.view, "filterset_class", None) or getattr(self.view, "filterset_fields", None):
            return super().get_filter_backends()
        return []

    def _get_paginator(self):
        return super()._get_paginator() if paginates(self.view, self.method) else None

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        model_field = _model_field(field)
        if direction != "response" or model_field is None or not isinstance(schema, dict):
            return schema
        # Read-only fields carry no allow_null/allow_blank: say what the column can hold.
        if model_field.blank and "enum" in schema and "" not in schema["enum"]:
            schema["enum"] = [*schema["enum"], ""]
        elif model_field.blank and "$ref" in schema and getattr(model_field, "choices", None):
            schema = {"oneOf": [schema, {"type": "string", "enum": [""]}]}
        if model_field.null and not schema.get("nullable"):
            schema = (
                {"allOf": [schema], "nullable": True} if "$ref" in schema else {**schema, "nullable": True}
            )
        return schema

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "request" and isinstance(serializer, StrictSerializer):
            schema["additionalProperties"] = False
        if direction == "response":
            for prop in schema.get("properties", {}).values():
                if prop.get("format") == "uri":
                    del prop["format"]  # a URL not set reads as "", which is no URI
        return schema


def _statuses(method: str, operation: dict) -> list[str]:
    codes = ["400", "404", "503"]
    if any(requirement for requirement in operation.get("security", [])):
        codes += ["401", "403", "429"]
    if method != "get":
        codes.append("409")
    if method == "post":
        codes += ["402", "423"]
    if "requestBody" in operation:
        codes += ["413", "415"]
    return codes


def document_errors(result, generator, request, public):
    """Postprocessing hook: the ``Error`` component and, per operation, every error status it may answer."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/Error"}
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for code in _statuses(method, operation):
                operation["responses"].setdefault(
                    code, {"description": ERRORS[code], "content": {"application/json": {"schema": ref}}}
                )
    return result
