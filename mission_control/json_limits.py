"""What a JSON document may hold before it reaches a service: bounded depth, text PostgreSQL can store.

Nested 1,000 deep, a document parsed fine and then crashed whatever walked it (serializers,
JMESPath, the jsonb adapter) with RecursionError; a NUL character or a lone surrogate parsed
fine and then failed in the database, which answered 503 "database unavailable" (that clients
retry). Every JSON body goes through :func:`check` (the API's parser does it), so such a document
is a 400 with a stable code before anything else sees it.
"""

import json
import re

MAX_DEPTH = 64  # a workflow definition's step input sits 4 levels down; 60 more is plenty


class UnacceptableJSON(ValueError):
    """``code`` is ``too_deep`` or ``invalid_characters``; ``path`` where in the document (``a.b.0``)."""

    def __init__(self, code: str, message: str, path: str = ""):
        self.code = code
        self.message = message
        self.path = path
        super().__init__(message)


def _bad_text(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character (\\u0000)"
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        return "contains a lone surrogate (an unpaired \\ud800-\\udfff escape)"
    return None


def clean_text(text: str) -> bool:
    """No NUL and no lone surrogate (DRF's two text validators), at C speed: a lone surrogate is the
    one thing UTF-8 cannot encode, so no walk per character."""
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# Decoded JSON text holds no lone surrogate (the charset's decoder refuses one) and strict JSON no
# raw control character: a NUL or a lone surrogate in a string can only come from a \u escape.
_BAD_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


def may_hold_bad_text(text: str) -> bool:
    """Whether JSON ``text`` (decoded) can parse to a string :func:`clean_text` refuses. A paired
    surrogate escape (an emoji) answers yes as well: the walk then looks."""
    return _BAD_ESCAPE.search(text) is not None


def _shallow_enough(data, max_depth: int) -> bool:
    """Only the depth: containers are walked, scalars skipped."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > max_depth:
            return False
        for item in value.values() if type(value) is dict else value:
            if type(item) is dict or type(item) is list:
                stack.append((item, depth + 1))
    return True


def _acceptable(data, max_depth: int) -> bool:
    """The same verdict as :func:`check`, without building a path for every value (a 1,000-item
    batch has ~30,000): True when nothing is wrong, False when :func:`check` must say what."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            if depth > max_depth:
                return False
            for key, item in value.items():
                if isinstance(key, str) and not clean_text(key):
                    return False
                if isinstance(item, (dict, list)):
                    stack.append((item, depth + 1))
                elif isinstance(item, str) and not clean_text(item):
                    return False
        elif isinstance(value, list):
            if depth > max_depth:
                return False
            for item in value:
                if isinstance(item, (dict, list)):
                    stack.append((item, depth + 1))
                elif isinstance(item, str) and not clean_text(item):
                    return False
        elif isinstance(value, str) and not clean_text(value):
            return False
    return True


def check(data, *, max_depth: int = MAX_DEPTH, text_is_clean: bool = False) -> None:
    """Raise :class:`UnacceptableJSON` when ``data`` nests deeper than ``max_depth`` or holds bad text.

    Iterative, so no document can make this walk itself recurse too deep. ``text_is_clean``: the
    caller knows no string in it holds bad text (:func:`may_hold_bad_text` said no of its JSON).
    """
    if text_is_clean and (type(data) not in (dict, list) or _shallow_enough(data, max_depth)):
        return
    if _acceptable(data, max_depth):
        return
    stack = [(data, 1, "")]
    while stack:
        value, depth, path = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > max_depth:
                raise UnacceptableJSON(
                    "too_deep", f"JSON nests deeper than {max_depth} levels (at {path or 'the top'}).", path
                )
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                shown = str(key).encode("utf-8", "backslashreplace").decode("utf-8")  # printable
                where = f"{path}.{shown}" if path else shown
                if isinstance(key, str) and (problem := _bad_text(key)):
                    raise UnacceptableJSON("invalid_characters", f"A key at {where} {problem}.", where)
                stack.append((item, depth + 1, where))
        elif isinstance(value, str) and (problem := _bad_text(value)):
            raise UnacceptableJSON("invalid_characters", f"The text at {path or 'the top'} {problem}.", path)


def loads(text: str | bytes, **kwargs):
    """``json.loads`` then :func:`check`; too deep for the parser itself is ``too_deep`` as well."""
    try:
        data = json.loads(text, **kwargs)
    except RecursionError:
        raise UnacceptableJSON("too_deep", f"JSON nests deeper than {MAX_DEPTH} levels.") from None
    check(data)
    return data
