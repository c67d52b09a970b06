"""The API's JSON parser: DRF's, then :mod:`mission_control.json_limits` on what it parsed."""

import codecs

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser, get_encoding
from rest_framework.utils import json

from mission_control import json_limits


class BoundedJSONParser(JSONParser):
    """Depth and text are checked once here, for every JSON body of every endpoint."""

    def parse(self, stream, media_type=None, parser_context=None):
        # DRF's JSONParser.parse, keeping the decoded text: it tells whether any string may hold
        # a NUL or a lone surrogate, so a clean body (the usual one) skips the walk over its text.
        encoding = get_encoding(parser_context or {})
        try:
            text = codecs.getreader(encoding)(stream).read()
            data = json.loads(text, parse_constant=json.strict_constant if self.strict else None)
        except RecursionError:
            raise json_limits.UnacceptableJSON(
                "too_deep", f"JSON nests deeper than {json_limits.MAX_DEPTH} levels."
            ) from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
        json_limits.check(data, text_is_clean=not json_limits.may_hold_bad_text(text))
        return data
