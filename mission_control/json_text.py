"""JSON text exactly as ``json.dumps`` writes it, without its set-up on every call.

``json.dumps`` builds an encoder (and, with options, a ``JSONEncoder``) for each document; for
the small documents of a batch report (an input, an output, a body to hash: thousands a request)
that set-up costs as much as the encoding. The functions here make the C encoder once and call
it. They never look for circular references (``check_circular=False``): they are for documents
parsed from JSON or built from plain values, which cannot hold a cycle (one would raise
RecursionError instead of ValueError).
"""

import json
from collections.abc import Callable
from json.encoder import c_make_encoder, encode_basestring_ascii
from typing import Any


def encoder(*, sort_keys: bool = False, separators=(", ", ": "), default=None) -> Callable[[Any], str]:
    """A function giving ``json.dumps(value, sort_keys=..., separators=..., default=...,
    check_circular=False)``, character for character."""
    item_separator, key_separator = separators
    if c_make_encoder is None:  # a Python built without the _json accelerator
        return lambda value: json.dumps(
            value, sort_keys=sort_keys, separators=separators, default=default, check_circular=False
        )
    # The arguments JSONEncoder.iterencode gives it: markers, default, string encoder, indent,
    # key and item separators, sort_keys, skipkeys, allow_nan.
    encode = c_make_encoder(
        None, default, encode_basestring_ascii, None, key_separator, item_separator, sort_keys, False, True
    )

    def dumps(value) -> str:
        if type(value) is str:  # as JSONEncoder.encode
            return encode_basestring_ascii(value)
        return "".join(encode(value, 0))

    return dumps


# ``json.dumps(value)``
dumps = encoder()
# The canonical form report bodies are hashed in (executions.api.serializers.body_hash).
canonical = encoder(sort_keys=True, separators=(",", ":"), default=str)
