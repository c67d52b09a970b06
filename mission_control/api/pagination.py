from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from mission_control.params import InvalidParameter, param, parse_int


class IdCursorPagination(CursorPagination):
    """Cursor pagination newest first, answering ``{"results": [...], "next": url|null}``.

    A cursor stays stable while rows are appended, which offset pagination does not.
    """

    ordering = "-id"
    page_size_query_param = "limit"
    max_page_size = 500

    def get_page_size(self, request):
        """``limit`` (at most ``max_page_size``); not a number is a 400, not the default in silence."""
        size = param(request.query_params, self.page_size_query_param, parse_int, minimum=1)
        return self.page_size if size is None else min(size, self.max_page_size)

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise InvalidParameter("cursor", "Not a cursor this list gave out (use the next link).") from None

    def get_paginated_response(self, data):
        return Response({"results": data, "next": self.get_next_link(), "previous": self.get_previous_link()})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["results", "next"],
            "properties": {
                "results": schema,
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
            },
        }
