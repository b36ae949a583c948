"""docs/alerts.md cannot drift from what the console sends: its receiver code block is run
against `alerts.formats.signature` and the body `alerts.formats.webhook_body` builds, and it
is the test receiver's own function."""

from __future__ import annotations

import inspect
import json
import re
import time
from pathlib import Path
from types import SimpleNamespace

from django.conf import settings
from django.utils import timezone

from alerts import formats
from alerts.tests import receiver

ALERTS_MD = Path(settings.BASE_DIR, "docs", "alerts.md").read_text()
SECRET = "whsec-doc-test"


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", ALERTS_MD, re.MULTILINE | re.DOTALL)


def documented_verify():
    [block] = [b for b in code_blocks("python") if "def verify(" in b]
    namespace: dict = {}
    exec(compile(block, "docs/alerts.md", "exec"), namespace)  # noqa: S102 - the page's own code
    return block, namespace["verify"]


def a_body() -> bytes:
    delivery = SimpleNamespace(alert="provider.unreachable", event={"id": 1, "summary": "p1 is now unreachable"},
                               pk=42, text="[Unreachable] p1 is now unreachable", changes=0, provider_id="p1")
    return formats.webhook_body(delivery, timezone.now())


def test_the_documented_receiver_accepts_the_console_s_signature_and_refuses_a_replay():
    _, verify = documented_verify()
    body, now = a_body(), int(time.time())
    header = formats.signature(SECRET, now, body)
    seen: set[str] = set()
    assert verify(SECRET, header, body, now + 5, seen) is None
    assert verify(SECRET, header, body, now + 6, seen) == "replay"


def test_the_documented_receiver_refuses_an_old_a_forged_and_a_malformed_signature():
    _, verify = documented_verify()
    body, now = a_body(), int(time.time())
    old = formats.signature(SECRET, now - 301, body)
    assert verify(SECRET, old, body, now, set()) == "too old"
    assert verify(SECRET, formats.signature("another-secret", now, body), body, now, set()) == "bad signature"
    assert verify(SECRET, formats.signature(SECRET, now, body), body + b" ", now, set()) == "bad signature"
    assert verify(SECRET, "v1=00", body, now, set()) == "malformed signature"
    # The window is the one the console's own check uses (alerts.formats.verify_signature).
    assert formats.verify_signature(SECRET, old, body, now=now) is False


def test_the_documented_receiver_is_the_test_receiver_s_function():
    block, _ = documented_verify()
    source = inspect.getsource(receiver.verify)
    # The receiver's docstring says where it comes from; the code is line for line the page's.
    code = [line for line in source.splitlines() if not line.strip().startswith(('"""', "ten-line"))]
    documented = block.splitlines()
    assert [line for line in code if line not in documented] == []
    assert f"TOLERANCE_S = {receiver.TOLERANCE_S}" in block


def test_the_documented_body_has_the_keys_the_console_sends_in_its_order():
    [example] = [b for b in code_blocks("json") if '"delivery_id"' in b]
    assert list(json.loads(example)) == list(json.loads(a_body()))
    assert formats.SIGNATURE_HEADER in ALERTS_MD
