"""The masking filter: installed on every handler, masks vault values and credential shapes."""

from __future__ import annotations

import base64
import logging
from urllib.parse import quote

import pytest
from django.conf import settings

from secrets_vault.logging_filter import SecretMaskingFilter, mask_text, register_secret
from secrets_vault.tests.helpers import secret_action


def emit(logger_name: str, msg: str, *args, exc: BaseException | None = None) -> logging.LogRecord:
    record = logging.getLogger(logger_name).makeRecord(
        logger_name, logging.ERROR, __file__, 1, msg, args, (type(exc), exc, None) if exc else None
    )
    SecretMaskingFilter().filter(record)
    return record


def rendered(record: logging.LogRecord) -> str:
    return logging.Formatter("%(message)s").format(record)


@pytest.mark.parametrize(
    "text, survives",
    [
        ("calling with Authorization: Bearer abcdefghijklmnop123", "Bearer ***"),
        ("key sk-proj-AbCdEf0123456789xyz rejected", "sk-***"),
        ("token ghp_0123456789abcdefghijABCDEFGHIJ", "token ***"),
        ("aws AKIAABCDEFGHIJKLMNOP", "aws ***"),
        ('{"api_key": "plainvalue123"}', '"api_key": "***'),
        ("url?token=abcdef123456&x=1", "token=***&x=1"),
        ("password=hunter2hunter2", "password=***"),
    ],
)
def test_common_credential_shapes_are_masked(text, survives):
    assert survives in mask_text(text)


def test_ordinary_messages_are_left_alone():
    text = "provider openai-prod is unreachable (timeout at 12:01:03Z); azure-east is next"
    assert mask_text(text) == text


def test_registered_values_are_masked_also_when_encoded():
    value = "registered+value/with=chars"
    register_secret(value)

    for form in (value, base64.b64encode(value.encode()).decode(), quote(value, safe="")):
        record = emit("anything", "before %s after", form)
        assert rendered(record) == "before *** after"


def test_arguments_exceptions_and_stacks_are_masked():
    value = "exception-carried-secret-01"
    register_secret(value)
    try:
        raise ValueError(f"bad value {value}")
    except ValueError as exc:
        record = emit("anything", "failed: %r", exc, exc=exc)
    text = rendered(record)
    assert value not in text
    assert "failed: ValueError('bad value ***')" in text
    assert "ValueError: bad value ***" in text


def test_short_values_are_not_registered():
    register_secret("abc")
    assert mask_text("abc abc") == "abc abc"


def test_the_filter_is_installed_on_every_handler_of_the_settings():
    handlers = settings.LOGGING["handlers"]
    assert all("mask_secrets" in handler.get("filters", []) for handler in handlers.values())
    assert settings.LOGGING["filters"]["mask_secrets"]["()"] == "secrets_vault.logging_filter.SecretMaskingFilter"
    configured = [logging.getLogger(), logging.getLogger("django"), logging.getLogger("django.server")]
    for logger in configured:
        for handler in logger.handlers:
            if type(handler).__module__.startswith("_pytest"):
                continue  # the test runner's own capture handlers
            assert any(isinstance(f, SecretMaskingFilter) for f in handler.filters), (logger.name, handler)


def test_urllib3_logs_only_warnings():
    assert logging.getLogger("urllib3").level == logging.WARNING


@pytest.mark.django_db
def test_a_value_set_through_the_api_is_masked_in_any_later_log(admin_client, provider, caplog):
    value = "later-logged-secret-value-42"
    secret_action(admin_client, provider.id, action="set", value=value)
    caplog.set_level(logging.DEBUG)

    logging.getLogger("some.library").warning("sending header X-Key: %s", value)

    assert value not in caplog.text
    assert "X-Key: ***" in caplog.text


def test_every_value_of_a_full_vault_is_masked_anywhere_in_a_text():
    """The filter looks values up by their first characters: each of many registered values is
    found at the start, in the middle and at the end of a text, next to another one, and a value
    inside a longer registered one leaves no tail."""
    import secrets as random_source

    # Two forms each (the value, its base64): more than the registry keeps (4,096), the oldest go.
    values = ["sec" + random_source.token_hex(12) for _ in range(2100)]
    for value in values:
        register_secret(value)
    sample = values[-50:]  # the newest, never evicted by the cap
    text = sample[0] + " middle " + sample[1] + sample[2] + " end:" + sample[3]
    masked = mask_text(text)
    assert masked == "*** middle ****** end:***"
    outer = "outer-" + sample[4] + "-tail"
    register_secret(outer)
    assert mask_text("x " + outer + " y") == "x *** y"
    assert [value for value in sample if value in mask_text(" | ".join(sample))] == []


def test_fields_given_with_extra_are_masked_too():
    value = "extra-field-secret-0123456789"
    register_secret(value)
    record = logging.getLogger("tests").makeRecord("tests", logging.INFO, __file__, 1, "plain message", (), None)
    record.__dict__.update(detail=f"saw {value}", nested={"headers": [f"Bearer {value}"]}, status=200, request="an object")
    SecretMaskingFilter().filter(record)
    assert record.detail == "saw ***" and record.nested == {"headers": ["Bearer ***"]}
    assert (record.status, record.request, record.getMessage()) == (200, "an object", "plain message")
