"""The API's JSON parser: DRF's, then :mod:`mission_control.json_limits` on what it parsed."""

from rest_framework.parsers import JSONParser

from mission_control import json_limits


class BoundedJSONParser(JSONParser):
    """Depth and text are checked once here, for every JSON body of every endpoint."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise json_limits.UnacceptableJSON(
                "too_deep", f"JSON nests deeper than {json_limits.MAX_DEPTH} levels."
            ) from None
        json_limits.check(data)
        return data
