"""One probe per kind, every error class, the deep probe and the secret policies, against a
real simulator on 127.0.0.1."""

from __future__ import annotations

import pytest

from health.errors import ErrorCode
from health.probes import LlamaCppProbe, OllamaProbe
from health.runner import probe_one
from providers.models import Kind

from .conftest import OPENAI_KEY

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("kind", "prefix", "model", "paths"),
    [
        (Kind.OPENAI_COMPATIBLE, "/openai/v1", "gpt-4o", ["/openai/v1/models"]),
        (Kind.OLLAMA, "/ollama", "qwen2.5:7b", ["/ollama/api/tags"]),
        (Kind.LLAMA_CPP, "/llamacpp", "local-model", ["/llamacpp/health", "/llamacpp/v1/models"]),
        (Kind.OTHER, "/site", "whatever", ["/site"]),
    ],
)
def test_each_kind_passes_with_its_own_probe(sim_provider, simulator, kind, prefix, model, paths):
    provider = sim_provider(prefix, kind=kind, default_model=model)

    outcome = probe_one(provider, credential=OPENAI_KEY)

    assert (outcome.ok, outcome.error_code, outcome.http_status) == (True, None, 200)
    assert outcome.model == model
    assert outcome.latency_ms is not None
    assert [r.path for r in simulator.recorded] == paths
    assert all(r.method == "GET" for r in simulator.recorded)


@pytest.mark.parametrize(
    ("kind", "prefix", "model", "completion_path"),
    [
        (Kind.OPENAI_COMPATIBLE, "/openai/v1", "gpt-4o-mini", "/openai/v1/chat/completions"),
        (Kind.OLLAMA, "/ollama", "llama3.2:3b", "/ollama/v1/chat/completions"),
        (Kind.LLAMA_CPP, "/llamacpp", "local-model", "/llamacpp/v1/chat/completions"),
    ],
)
def test_the_deep_probe_adds_one_completion(sim_provider, simulator, kind, prefix, model, completion_path):
    provider = sim_provider(prefix, kind=kind, default_model=model)

    outcome = probe_one(provider, credential=OPENAI_KEY, deep=True)

    assert outcome.ok, outcome.error_message
    assert outcome.deep is True
    assert simulator.recorded[-1].method == "POST"
    assert simulator.recorded[-1].path == completion_path


def test_the_deep_probe_of_other_adds_nothing(sim_provider, simulator):
    outcome = probe_one(sim_provider("/site", kind=Kind.OTHER), credential=None, deep=True)
    assert outcome.ok and outcome.deep
    assert len(simulator.recorded) == 1


@pytest.mark.parametrize(
    ("prefix", "code", "http_status", "in_message"),
    [
        ("/fail/401/v1", ErrorCode.AUTH_FAILURE, 401, "Rotate the provider's secret"),
        ("/fail/404/v1", ErrorCode.BAD_ENDPOINT, 404, "usually ends in /v1"),
        ("/fail/429/v1", ErrorCode.RATE_LIMITED, 429, "Wait and test again"),
        ("/fail/500/v1", ErrorCode.SERVER_ERROR, 500, "HTTP 500"),
        ("/fail/503/v1", ErrorCode.SERVER_ERROR, 503, "HTTP 503"),
        ("/fail/non_json/v1", ErrorCode.BAD_ENDPOINT, 200, "not JSON"),
        ("/fail/wrong_shape/v1", ErrorCode.BAD_ENDPOINT, 200, "not a list of models"),
        ("/fail/redirect/v1", ErrorCode.BAD_ENDPOINT, 302, "redirects are not followed"),
        ("/fail/drop/v1", ErrorCode.UNREACHABLE, None, "closed before an answer"),
    ],
)
def test_each_failure_is_classified_with_an_actionable_message(sim_provider, prefix, code, http_status, in_message):
    outcome = probe_one(sim_provider(prefix), credential=None)

    assert (outcome.ok, outcome.error_code, outcome.http_status) == (False, code, http_status)
    assert in_message in outcome.error_message


def test_the_remote_body_never_reaches_the_message(sim_provider):
    for prefix in ("/fail/401/v1", "/fail/500/v1", "/fail/non_json/v1", "/fail/wrong_shape/v1"):
        message = probe_one(sim_provider(prefix), credential=None).error_message
        for remote_text in ("simulated", "nginx", "hello", "world", "error"):
            assert remote_text not in message.lower(), (prefix, message)


def test_a_wrong_key_is_an_auth_failure_and_the_key_is_not_in_the_message(sim_provider):
    outcome = probe_one(sim_provider("/openai/v1"), credential="sk-wrong-key-123")

    assert outcome.error_code == ErrorCode.AUTH_FAILURE
    assert "sk-wrong-key-123" not in outcome.error_message


def test_an_unlisted_default_model_is_model_not_found(sim_provider):
    outcome = probe_one(sim_provider("/openai/v1", default_model="gpt-9"), credential=OPENAI_KEY)

    assert outcome.error_code == ErrorCode.MODEL_NOT_FOUND
    assert "'gpt-9'" in outcome.error_message
    assert "2 other models" in outcome.error_message


@pytest.mark.parametrize(("kind", "prefix"), [(Kind.OLLAMA, "/ollama"), (Kind.LLAMA_CPP, "/llamacpp")])
def test_local_kinds_check_the_model_too(sim_provider, kind, prefix):
    outcome = probe_one(sim_provider(prefix, kind=kind, default_model="not-there"), credential=None)
    assert outcome.error_code == ErrorCode.MODEL_NOT_FOUND


def test_llama_cpp_still_loading_is_a_server_error_that_says_so(sim_provider, simulator):
    outcome = probe_one(sim_provider("/llamacpp-loading", kind=Kind.LLAMA_CPP), credential=None)

    assert (outcome.error_code, outcome.http_status) == (ErrorCode.SERVER_ERROR, 503)
    assert "still loading" in outcome.error_message
    assert [r.path for r in simulator.recorded] == ["/llamacpp-loading/health"]


@pytest.mark.parametrize(("prefix", "code"), [("/fail-site/500", ErrorCode.SERVER_ERROR), ("/fail-site/404", ErrorCode.BAD_ENDPOINT)])
def test_other_passes_on_any_2xx_only(sim_provider, prefix, code):
    assert probe_one(sim_provider(prefix, kind=Kind.OTHER), credential=None).error_code == code
    assert probe_one(sim_provider("/fail-site/non_json", kind=Kind.OTHER), credential=None).ok


def test_model_names_match_as_each_server_lists_them():
    assert OllamaProbe.same_model("mistral", "mistral:latest")
    assert OllamaProbe.same_model("mistral:latest", "mistral")
    assert not OllamaProbe.same_model("mistral:7b", "mistral:latest")
    assert LlamaCppProbe.same_model("local-model", "/models/local-model.gguf")
    assert LlamaCppProbe.same_model("local-model.gguf", "/models/local-model.gguf")
    assert not LlamaCppProbe.same_model("other-model", "/models/local-model.gguf")


def test_the_credential_is_sent_as_a_bearer_token(sim_provider, simulator):
    probe_one(sim_provider("/open/v1"), credential="sk-abc")
    assert simulator.recorded[0].authorization == "Bearer sk-abc"


# --- secret policies, with the secret stored in the vault --------------------------------------


def test_required_and_absent_is_missing_secret_without_any_request(sim_provider, simulator):
    provider = sim_provider("/openai/v1", secret_policy="required")

    outcome = probe_one(provider)

    assert outcome.error_code == ErrorCode.MISSING_SECRET
    assert "Secret action" in outcome.error_message
    assert outcome.latency_ms is None and outcome.http_status is None
    assert simulator.connections == 0


def test_required_and_present_sends_the_stored_secret(sim_provider, simulator, store_secret):
    provider = sim_provider("/openai/v1", secret_policy="required")
    store_secret(provider, OPENAI_KEY)

    assert probe_one(provider).ok
    assert simulator.recorded[0].authorization == f"Bearer {OPENAI_KEY}"


def test_optional_and_absent_probes_without_a_credential(sim_provider, simulator):
    provider = sim_provider("/open/v1", secret_policy="optional")

    assert probe_one(provider).ok
    assert simulator.recorded[0].authorization is None


def test_policy_none_never_sends_a_credential_even_if_one_was_stored(sim_provider, simulator, store_secret):
    provider = sim_provider("/open/v1", secret_policy="optional")
    store_secret(provider, "sk-left-over")
    provider.secret_policy = "none"
    provider.save()

    assert probe_one(provider).ok
    assert simulator.recorded[0].authorization is None
