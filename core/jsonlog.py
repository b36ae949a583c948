"""`LOG_FORMAT=json`: one JSON object per line, for a log collector to parse.

Keys: `time` (ISO 8601, UTC, `Z`), `level`, `logger`, `message`; during a request
`request_id`, `user`, `path`, `method` (core/logcontext.py); on access lines `status` and
`duration_ms` (core/accesslog.py; Django's own `django.request` lines give their
`status_code` as `status` too); `exc_info` with the traceback text when there is one; and any
other JSON-compatible field a caller passed with `extra=`. Other objects passed that way (the
`request` Django attaches to its records) are left out rather than written as their repr,
which would show a URL with its query string.

A formatter of our own rather than python-json-logger: the whole job is this page, and what it
must decide (which fields, what to leave out, the request context) is ours either way.
Masking happens before formatting, in the handler's filters (`LOGGING`), on the fields too.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from core.timefmt import ISO_UTC_FORMAT

# The attributes every LogRecord has; anything else on a record came from `extra=` or a filter.
STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
_JSON_SCALARS = (str, int, float, bool, type(None))
_RENAMED = {"status_code": "status"}


def _json_compatible(value, depth: int = 0) -> bool:
    if isinstance(value, _JSON_SCALARS):
        return True
    if depth > 4:
        return False
    if isinstance(value, (list, tuple)):
        return all(_json_compatible(item, depth + 1) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_compatible(v, depth + 1) for k, v in value.items())
    return False


def extra_fields(record: logging.LogRecord) -> dict:
    """The fields a caller or a filter added to `record`."""
    return {name: value for name, value in vars(record).items() if name not in STANDARD_ATTRIBUTES}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).strftime(ISO_UTC_FORMAT),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in extra_fields(record).items():
            name = _RENAMED.get(name, name)
            if name not in entry and not name.startswith("_") and _json_compatible(value):
                entry[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc_info"] = record.exc_text
        if record.stack_info:
            entry["stack_info"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)
