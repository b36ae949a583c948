"""Fixtures for the health tests: a real simulator on 127.0.0.1 and providers pointing at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from health.simulator import FAILURE_MODES, Route, SimulatorServer
from providers.models import Kind

OPENAI_KEY = "sk-test-good-key"
MODELS = ["gpt-4o-mini", "gpt-4o"]


def sim_routes() -> list[Route]:
    routes = [
        Route("/openai/v1", "openai_compatible", MODELS, api_key=OPENAI_KEY),
        Route("/open/v1", "openai_compatible", MODELS),  # no key required; records what it gets
        Route("/ollama", "ollama", ["llama3.2:3b", "qwen2.5:7b", "mistral:latest"]),
        Route("/llamacpp", "llama_cpp", ["/models/local-model.gguf"]),
        Route("/llamacpp-loading", "llama_cpp", ["local-model"], failures=("503",)),
        Route("/site", "other"),
        Route("/slow/v1", "openai_compatible", MODELS, latency_ms=400),
    ]
    routes += [Route(f"/fail/{mode}/v1", "openai_compatible", MODELS, failures=(mode,)) for mode in FAILURE_MODES]
    routes += [Route(f"/fail-site/{mode}", "other", failures=(mode,)) for mode in FAILURE_MODES]
    return routes


@pytest.fixture
def simulator() -> Iterator[SimulatorServer]:
    with SimulatorServer(sim_routes()) as server:
        yield server


DEFAULT_MODEL = {
    Kind.OPENAI_COMPATIBLE: "gpt-4o-mini",
    Kind.OLLAMA: "llama3.2:3b",
    Kind.LLAMA_CPP: "local-model",
    Kind.OTHER: "anything",
}


@pytest.fixture
def sim_provider(provider_factory, simulator):
    """`sim_provider("/open/v1", kind=..., **fields)`: a provider whose endpoint is on the simulator."""

    def make(prefix: str, *, kind: str = Kind.OPENAI_COMPATIBLE, **fields):
        fields.setdefault("default_model", DEFAULT_MODEL[kind])
        fields.setdefault("fallback_models", [])
        fields.setdefault("timeout_ms", 2000)
        fields.setdefault("retries", 0)
        fields.setdefault("secret_policy", "none")
        return provider_factory(kind=kind, endpoint=simulator.url(prefix), **fields)

    return make


@pytest.fixture
def store_secret(admin_client):
    """Store a provider's secret through the vault's API, as an operator would."""

    def store(provider, value: str, action: str = "set") -> None:
        response = admin_client.post(
            f"/api/providers/{provider.pk}/secret", {"action": action, "value": value}, format="json"
        )
        assert response.status_code == 200, response.content

    return store
