"""URL helpers: every API path answers with or without a trailing slash, never redirecting."""

from django.urls import re_path


def api_path(route: str, view, name: str | None = None):
    """``api_path("agents/<int:pk>/start", view)`` matches with and without the final slash."""
    pattern = route
    for conv, regex in (
        ("<int:", r"(?P<{}>[0-9]{{1,18}})"),  # at most 18 digits: always fits a bigint
        ("<slug:", r"(?P<{}>[-a-zA-Z0-9_]+)"),
        ("<str:", r"(?P<{}>[^/]+)"),
    ):
        while conv in pattern:
            start = pattern.index(conv)
            end = pattern.index(">", start)
            pattern = pattern[:start] + regex.format(pattern[start + len(conv) : end]) + pattern[end + 1 :]
    return re_path(rf"^{pattern}/?$", view, name=name)
