"""One probe per provider kind (ARCHITECTURE.md, "Health probes per kind").

A probe raises `errors.ProbeFailure` when the check fails and returns when it passes. The
cheap check spends no tokens; the deep check additionally sends one chat completion with
`max_tokens=1` to the default model. All HTTP goes through the probe's `ProbeClient`.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from health import errors
from health.http import ProbeClient, ProbeResponse

COMPLETION_PROMPT = "ping"


class Probe:
    kind: ClassVar[str] = ""
    completion_path: ClassVar[str] = "/chat/completions"

    def __init__(self, provider: Any, client: ProbeClient) -> None:
        self.provider = provider
        self.client = client

    @property
    def model(self) -> str:
        return self.provider.default_model

    def check(self) -> None:
        raise NotImplementedError

    def deep_check(self) -> None:
        """One chat completion of one token, OpenAI-style (every local server speaks it too)."""
        response = self.client.post_json(
            self.completion_path,
            {"model": self.model, "messages": [{"role": "user", "content": COMPLETION_PROMPT}], "max_tokens": 1},
        )
        data = self.json_of(response)
        if not (isinstance(data, dict) and isinstance(data.get("choices"), list)):
            raise errors.wrong_shape(response.path, "a chat completion", response.status_code)

    # -- helpers shared by the kinds -------------------------------------------------------
    def expect_success(self, response: ProbeResponse) -> None:
        if not 200 <= response.status_code < 300:
            raise errors.for_http_status(response.status_code, response.path, kind=self.kind)

    def json_of(self, response: ProbeResponse) -> Any:
        self.expect_success(response)
        if response.truncated:
            raise errors.too_large(response.path, self.client.max_bytes, response.status_code)
        try:
            return json.loads(response.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: nested too deep
            raise errors.not_json(response.path, response.status_code) from None

    def get_json(self, path: str) -> tuple[Any, ProbeResponse]:
        response = self.client.get(path)
        return self.json_of(response), response

    def expect_model(self, listed: list[str]) -> None:
        if not any(self.same_model(self.model, name) for name in listed):
            raise errors.model_not_found(self.model, len(listed))

    @staticmethod
    def same_model(wanted: str, listed: str) -> bool:
        return wanted == listed

    @staticmethod
    def ids_of(items: Any, *keys: str) -> list[str] | None:
        """The first present key of each item, or None when the items are not a list of objects."""
        if not isinstance(items, list):
            return None
        ids: list[str] = []
        for item in items:
            if not isinstance(item, dict):
                return None
            value = next((item[k] for k in keys if isinstance(item.get(k), str)), None)
            if value is None:
                return None
            ids.append(value)
        return ids


class OpenAICompatibleProbe(Probe):
    """`GET {endpoint}/models`: 200, a JSON list, the default model listed."""

    kind = "openai_compatible"

    def check(self) -> None:
        data, response = self.get_json("/models")
        items = data.get("data") if isinstance(data, dict) else data
        ids = self.ids_of(items, "id")
        if ids is None:
            raise errors.wrong_shape(response.path, "a list of models", response.status_code)
        self.expect_model(ids)


class OllamaProbe(Probe):
    """`GET {endpoint}/api/tags`: 200, JSON with `models`, the default model listed."""

    kind = "ollama"
    completion_path = "/v1/chat/completions"

    def check(self) -> None:
        data, response = self.get_json("/api/tags")
        ids = self.ids_of(data.get("models") if isinstance(data, dict) else None, "name", "model")
        if ids is None:
            raise errors.wrong_shape(response.path, "Ollama's list of models", response.status_code)
        self.expect_model(ids)

    @staticmethod
    def same_model(wanted: str, listed: str) -> bool:
        # Ollama treats "llama3.2" and "llama3.2:latest" as the same model.
        def full(name: str) -> str:
            return name if ":" in name else name + ":latest"

        return full(wanted) == full(listed)


class LlamaCppProbe(Probe):
    """`GET {endpoint}/health` is `{"status": "ok"}` (503 while loading), then `GET /v1/models`."""

    kind = "llama_cpp"
    completion_path = "/v1/chat/completions"

    def check(self) -> None:
        health, response = self.get_json("/health")
        if not (isinstance(health, dict) and health.get("status") == "ok"):
            raise errors.wrong_shape(response.path, '{"status": "ok"}', response.status_code)
        data, response = self.get_json("/v1/models")
        ids = self.ids_of(data.get("data") if isinstance(data, dict) else None, "id")
        if ids is None:
            raise errors.wrong_shape(response.path, "a list of models", response.status_code)
        self.expect_model(ids)

    @staticmethod
    def same_model(wanted: str, listed: str) -> bool:
        # llama.cpp lists the model file it loaded, often as a path: match the file name too,
        # with or without its .gguf extension.
        name = listed.replace("\\", "/").rsplit("/", 1)[-1]
        return wanted in (listed, name, name.removesuffix(".gguf"))


class OtherProbe(Probe):
    """`GET {endpoint}`: any 2xx. No protocol is known, so the deep check adds nothing."""

    kind = "other"

    def check(self) -> None:
        self.expect_success(self.client.get(""))

    def deep_check(self) -> None:
        return None


PROBES: dict[str, type[Probe]] = {
    probe.kind: probe for probe in (OpenAICompatibleProbe, OllamaProbe, LlamaCppProbe, OtherProbe)
}


def probe_for(provider: Any, client: ProbeClient) -> Probe:
    return PROBES.get(provider.kind, OtherProbe)(provider, client)
