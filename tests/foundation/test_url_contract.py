"""Agents POST: every API path must answer with and without a trailing slash, never redirecting."""

from django.urls import URLPattern, URLResolver, get_resolver


def api_patterns(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from api_patterns(entry, route)
        elif isinstance(entry, URLPattern) and route.startswith("api/v1/"):
            yield route


def test_every_api_route_takes_an_optional_trailing_slash():
    offenders = []
    for route in api_patterns():
        tail = route.removeprefix("api/v1/")
        if not (tail.endswith("/?$") or tail.endswith("/?\\Z") or tail in ("", "^$")):
            offenders.append(route)
    assert offenders == []
