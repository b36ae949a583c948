"""JSON from requests, refused with a 400 when nested deeper than any body of this site needs.

Python's JSON decoder recurses once per level: a body nested 1,000 levels deep raises
`RecursionError`, which no handler expects (a 500). The depth is measured on the text before
decoding, in C-speed passes (strings removed by one regex, then only the brackets are
walked), so a deep body costs no recursion at all.

`JSONParser` is DRF's default parser (settings `REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]`);
`JSONSerializerField` is the rule for JSON that DRF decodes from a form field, and
`JSONFormField` for Django forms (the admin's JSON fields), as an inline error.
"""

from __future__ import annotations

import codecs
import re

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from rest_framework import parsers, serializers
from rest_framework.exceptions import ParseError
from rest_framework.utils import json

MAX_JSON_DEPTH = 32

_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


def too_deep_message(limit: int = MAX_JSON_DEPTH) -> str:
    return f"JSON nested more than {limit} levels deep; send a flatter document."


def exceeds_json_depth(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON text opens more than `limit` arrays/objects inside each other."""
    if text.count("[") + text.count("{") <= limit:
        return False
    depth = 0
    for bracket in _BRACKET.findall(_JSON_STRING.sub("", text)):
        if bracket in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _text_encoding(parser_context) -> str:
    """The request's charset, refused unless it is a text codec (a codec such as `bz2_codec`
    would decompress a small body into an unbounded one after the size check)."""
    encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
    try:
        "".encode(encoding)
    except (LookupError, UnicodeError):
        raise ParseError(f'Unsupported charset "{encoding}" in request Content-Type header.') from None
    return encoding


class JSONParser(parsers.JSONParser):
    """DRF's JSONParser with a nesting limit: a deeper body is a 400 `{"detail": ...}`."""

    max_depth = MAX_JSON_DEPTH

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = _text_encoding(parser_context or {})
        try:
            text = codecs.getreader(encoding)(stream).read()
        except ValueError as exc:  # not in that charset
            raise ParseError(f"JSON parse error - {exc}") from None
        if exceeds_json_depth(text, self.max_depth):
            raise ParseError(f"JSON parse error - {too_deep_message(self.max_depth)}")
        parse_constant = json.strict_constant if self.strict else None
        try:
            return json.loads(text, parse_constant=parse_constant)
        except (ValueError, RecursionError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None


class JSONFormField(forms.JSONField):
    """Django's form JSONField with the same nesting limit, as a field error."""

    max_depth = MAX_JSON_DEPTH

    def to_python(self, value):
        if isinstance(value, str) and exceeds_json_depth(value, self.max_depth):
            raise ValidationError(too_deep_message(self.max_depth), code="too_deep")
        try:
            return super().to_python(value)
        except RecursionError:
            raise ValidationError(too_deep_message(self.max_depth), code="too_deep") from None

    def bound_data(self, data, initial):
        # Redisplaying a refused value must not decode it either.
        if isinstance(data, str) and exceeds_json_depth(data, self.max_depth):
            return forms.fields.InvalidJSONInput(data)
        return super().bound_data(data, initial)


class JSONSerializerField(serializers.JSONField):
    """DRF's serializer JSONField with the same nesting limit, for JSON sent as a form field
    (the browsable API's HTML form, multipart or form-encoded bodies), which DRF decodes itself."""

    max_depth = MAX_JSON_DEPTH
    default_error_messages = {**serializers.JSONField.default_error_messages, "too_deep": too_deep_message()}

    def to_internal_value(self, data):
        if isinstance(data, (str, bytes)) and (self.binary or getattr(data, "is_json_string", False)):
            text = data.decode(errors="replace") if isinstance(data, bytes) else data
            if exceeds_json_depth(text, self.max_depth):
                self.fail("too_deep")
        try:
            return super().to_internal_value(data)
        except RecursionError:
            self.fail("too_deep")
