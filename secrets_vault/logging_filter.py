"""A logging filter that masks secret values in every record (spec §7: never in logs).

Installed on every handler by `settings.LOGGING`, so it sees each record whichever logger
emitted it. It masks:

- values the vault has handled in this process (set through the API, decrypted for a probe,
  key-ring keys), also in their base64 and URL-encoded forms;
- common credential shapes wherever they come from: `sk-…` keys, `Bearer …` tokens, GitHub,
  Slack and AWS key ids, and `api_key=…` / `"token": "…"` style assignments.

The record is rewritten in place (message, arguments, exception and stack text, and the
fields added with `extra=` or by `core.logcontext.RequestContextFilter`, which the JSON log
format writes out), so handlers that run after this one see the masked text too.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
from collections import OrderedDict
from urllib.parse import quote, quote_plus

from core.jsonlog import extra_fields
from core.masking import MASK

# Shorter values are not credentials, and masking them would garble ordinary words.
MIN_REGISTERED_LENGTH = 8
MAX_REGISTERED = 4096

_SHAPES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE), r"\1 " + MASK),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{8,}"), "sk-" + MASK),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"), MASK),
    (re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"), MASK),
    (re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"), MASK),
    (
        re.compile(
            r"""(?P<k>(?:api[_-]?key|access[_-]?token|token|secret|password|passwd|authorization|x-api-key)"""
            r"""["']?\s*[:=]\s*["']?)(?!(?:Bearer|Basic)\b)(?P<v>[^\s"',;&}*]{6,})""",
            re.IGNORECASE,
        ),
        r"\g<k>" + MASK,
    ),
]

_lock = threading.Lock()
_registered: OrderedDict[str, None] = OrderedDict()
# _registered by their first MIN_REGISTERED_LENGTH characters, so a text is searched once,
# position by position, instead of once per registered value (4,096 searches per field of
# every log line with a full vault). Changed under the lock; readers only `get` from it and
# each entry is replaced whole, so they need no lock.
_by_prefix: dict[str, tuple[str, ...]] = {}


def _forms(value: str) -> set[str]:
    raw = value.encode("utf-8")
    forms = {
        value,
        quote(value, safe=""),
        quote_plus(value, safe=""),
        base64.b64encode(raw).decode("ascii"),
        base64.urlsafe_b64encode(raw).decode("ascii"),
    }
    # Base64 without padding, as it appears inside longer encoded strings.
    forms |= {f.rstrip("=") for f in list(forms)}
    return {f for f in forms if len(f) >= MIN_REGISTERED_LENGTH}


def register_secret(value: str) -> None:
    """Mask `value` (and its encoded forms) in every later log record of this process."""
    if not isinstance(value, str) or len(value) < MIN_REGISTERED_LENGTH:
        return
    with _lock:
        for form in _forms(value):
            if form not in _registered:
                prefix = form[:MIN_REGISTERED_LENGTH]
                _by_prefix[prefix] = (*_by_prefix.get(prefix, ()), form)
            _registered[form] = None
            _registered.move_to_end(form)
        while len(_registered) > MAX_REGISTERED:
            evicted, _ = _registered.popitem(last=False)
            prefix = evicted[:MIN_REGISTERED_LENGTH]
            remaining = tuple(form for form in _by_prefix.get(prefix, ()) if form != evicted)
            if remaining:
                _by_prefix[prefix] = remaining
            else:
                _by_prefix.pop(prefix, None)


def _registered_in(text: str) -> set[str]:
    index = _by_prefix
    found: set[str] = set()
    if not index:
        return found
    get = index.get
    for start in range(len(text) - MIN_REGISTERED_LENGTH + 1):
        candidates = get(text[start : start + MIN_REGISTERED_LENGTH])
        if candidates:
            found.update(value for value in candidates if text.startswith(value, start))
    return found


def mask_text(text: str) -> str:
    if not text:
        return text
    # Longest first, so a value inside a longer one (an unpadded base64 form) leaves no tail.
    for value in sorted(_registered_in(text), key=len, reverse=True):
        if value in text:
            text = text.replace(value, MASK)
    for pattern, replacement in _SHAPES:
        text = pattern.sub(replacement, text)
    return text


def _mask_field(value, depth: int = 0):
    """`value` with every string inside it masked; other objects are left as they are (a
    formatter that writes them must not print their repr: core/jsonlog.py leaves them out)."""
    if isinstance(value, str):
        return mask_text(value)
    if depth > 4:
        return value
    if isinstance(value, (list, tuple)):
        masked = [_mask_field(item, depth + 1) for item in value]
        return masked if isinstance(value, list) else tuple(masked)
    if isinstance(value, dict):
        return {key: _mask_field(item, depth + 1) for key, item in value.items()}
    return value


def _strings_in(value, depth: int = 0):
    if isinstance(value, str):
        yield value
    elif depth <= 5 and isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings_in(item, depth + 1)
    elif depth <= 5 and isinstance(value, dict):
        for item in value.values():
            yield from _strings_in(item, depth + 1)


class SecretMaskingFilter(logging.Filter):
    """Never drops a record; rewrites it so no secret reaches a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep the raw parts, masked
            message = f"{record.msg} {record.args!r}"
        masked = mask_text(message)
        if masked != message or record.args:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        extras = {name: value for name, value in extra_fields(record).items() if isinstance(value, (str, list, tuple, dict))}
        # One pass over all the fields together first: most records (an access line's method,
        # path, request id and user) hold nothing to mask, and each pass tries every registered
        # value. Joined by line breaks, a match inside one field is a match in the whole, so
        # nothing is missed; a match across two only costs the field-by-field pass.
        joined = "\n".join(_strings_in(list(extras.values())))
        if joined and mask_text(joined) != joined:
            for name, value in extras.items():
                setattr(record, name, _mask_field(value))
        return True


def install_on_all_handlers(root: logging.Logger) -> int:
    """Add the filter to every handler of every configured logger that lacks it; returns how many."""
    loggers = [root] + [
        logger for logger in root.manager.loggerDict.values() if isinstance(logger, logging.Logger)
    ]
    added = 0
    for logger in loggers:
        for handler in logger.handlers:
            if not any(isinstance(f, SecretMaskingFilter) for f in handler.filters):
                handler.addFilter(SecretMaskingFilter())
                added += 1
    return added
