"""Probing settings that are not saved yet: "Discover models" and "Test before save".

Both go through health's outbound seam (`ProbeClient` and the kind's probe), so denied
networks, the deadline, the response size limit and the TLS rules hold as for any check.
No credential is sent for a new provider; for an existing one the stored secret is sent only
when it is bound to the origin of the endpoint being tried (health's own rule), never to a
new host typed into the form.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from health import errors
from health.http import ProbeClient
from health.probes import probe_for
from health.runner import probe_one, resolve_credential
from providers.models import Provider, SecretPolicy

# Where each kind lists its models: (path, the list's key in the answer or None, id keys).
MODEL_LISTS: dict[str, tuple[str, str | None, tuple[str, ...]]] = {
    "openai_compatible": ("/models", "data", ("id",)),
    "ollama": ("/api/tags", "models", ("name", "model")),
    "llama_cpp": ("/v1/models", "data", ("id",)),
}
MAX_MODELS = 200
logger = logging.getLogger(__name__)


def credential_for(candidate: Provider, stored: Provider | None) -> Any:
    """The credential the probe may send: none for a new provider; for an existing one the
    stored secret only if bound to the candidate endpoint's origin (else none is sent)."""
    if stored is None or candidate.secret_policy == SecretPolicy.NONE:
        return None
    try:
        return resolve_credential(candidate)
    except errors.ProbeFailure as failure:
        if failure.code == errors.ErrorCode.SECRET_ORIGIN_MISMATCH:
            return None
        raise


def test_unsaved(candidate: Provider, stored: Provider | None) -> dict[str, Any]:
    """The check result (as `POST …/test` reports it) of the unsaved settings; writes nothing."""
    try:
        credential = credential_for(candidate, stored)
    except errors.ProbeFailure as failure:
        return {"ok": False, "error_code": failure.code, "error_message": failure.message, "latency_ms": None}
    outcome = probe_one(candidate, credential=credential)
    return {
        "ok": outcome.ok,
        "error_code": outcome.error_code,
        "error_message": outcome.error_message,
        "latency_ms": outcome.latency_ms,
        "http_status": outcome.http_status,
    }


def discover_models(candidate: Provider, stored: Provider | None) -> dict[str, Any]:
    """`{"ok", "models", "error_code", "error_message", "latency_ms"}`: the models the endpoint lists."""
    where = MODEL_LISTS.get(candidate.kind)
    if where is None:
        return {
            "ok": False, "models": [], "error_code": None, "latency_ms": None,
            "error_message": "Endpoints of kind other have no known model list; type the model names.",
        }
    path, key, id_keys = where
    started = time.monotonic()
    try:
        value, origin = _credential_parts(credential_for(candidate, stored))
        client = ProbeClient(
            endpoint=candidate.endpoint, timeout_ms=candidate.timeout_ms, retries=0,
            credential=value, credential_origin=origin,
        )
        probe = probe_for(candidate, client)
        data, response = probe.get_json(path)
        items = data.get(key) if isinstance(data, dict) and key else data
        ids = probe.ids_of(items, *id_keys)
        if ids is None:
            raise errors.wrong_shape(response.path, "a list of models", response.status_code)
    except errors.ProbeFailure as failure:
        return {
            "ok": False, "models": [], "error_code": failure.code, "error_message": failure.message,
            "latency_ms": round((time.monotonic() - started) * 1000),
        }
    except Exception:  # as probe_one: an answer nobody foresaw fails the discovery, not the page
        logger.exception("model discovery for an unsaved %s endpoint failed unexpectedly", candidate.kind)
        return {
            "ok": False, "models": [], "error_code": errors.ErrorCode.BAD_ENDPOINT.value, "latency_ms": None,
            "error_message": "The endpoint's answer could not be read as a list of models. Check the endpoint URL "
            "and the provider kind; the server log has details.",
        }
    models = sorted(dict.fromkeys(ids))[:MAX_MODELS]
    return {
        "ok": True, "models": models, "error_code": None, "error_message": "",
        "latency_ms": round((time.monotonic() - started) * 1000),
    }


def _credential_parts(credential: Any) -> tuple[str | None, Any]:
    from health.runner import _credential_parts as parts

    return parts(credential)
