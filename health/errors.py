"""The error codes of a failed check and the operator-facing message for each.

A message says what happened in the operator's terms and what to do next. It is built only
from the provider's own configuration and the HTTP status code: never from the remote body,
a remote header, or a credential.
"""

from __future__ import annotations

from django.db import models


class ErrorCode(models.TextChoices):
    AUTH_FAILURE = "auth_failure"
    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"
    BAD_ENDPOINT = "bad_endpoint"
    MODEL_NOT_FOUND = "model_not_found"
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    MISSING_SECRET = "missing_secret"
    BLOCKED_ENDPOINT = "blocked_endpoint"
    TLS_ERROR = "tls_error", "TLS Error"
    SECRET_ORIGIN_MISMATCH = "secret_origin_mismatch"


# Failures that mean "nothing answered": the provider becomes `unreachable`; every other
# failure makes it `degraded` (ARCHITECTURE.md, "Status").
UNREACHABLE_CODES = frozenset({ErrorCode.TIMEOUT, ErrorCode.UNREACHABLE})


class ProbeFailure(Exception):
    """A classified failure: raised inside a probe, turned into a check result by the runner."""

    def __init__(self, code: str, message: str, http_status: int | None = None) -> None:
        super().__init__(code, message, http_status)
        self.code = str(code)
        self.message = message
        self.http_status = http_status

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def missing_secret() -> ProbeFailure:
    return ProbeFailure(
        ErrorCode.MISSING_SECRET,
        "This provider requires a secret and none is stored; no request was made. "
        "Set one with the Secret action, or change secret_policy if the endpoint needs no key.",
    )


def unreadable_secret(detail: str = "") -> ProbeFailure:
    """`detail`: the vault's own message, which names the key id and never holds key material."""
    why = f" {detail}" if detail else " Set the secret again with the Secret action, and check the vault key ring."
    return ProbeFailure(
        ErrorCode.MISSING_SECRET,
        f"The stored secret could not be read; no request was made.{why}",
    )


def secret_origin_mismatch(bound: str, current: str) -> ProbeFailure:
    return ProbeFailure(
        ErrorCode.SECRET_ORIGIN_MISMATCH,
        f"The stored secret was set for {bound or 'another origin'}, but the endpoint now points to "
        f"{current or 'another origin'}; nothing was sent. An admin must rotate the secret (it is then bound to "
        f"the endpoint's origin) or point the endpoint back to {bound or 'the origin the secret was set for'}.",
    )


def blocked(address: str, network: str) -> ProbeFailure:
    return ProbeFailure(
        ErrorCode.BLOCKED_ENDPOINT,
        f"The endpoint resolves to {address}, inside the denied network {network}; no connection "
        "was made. Point the provider at an address outside PROBE_DENIED_NETWORKS.",
    )


def timeout(timeout_ms: int) -> ProbeFailure:
    return ProbeFailure(
        ErrorCode.TIMEOUT,
        f"No complete answer within the provider's timeout of {timeout_ms} ms. Check that the "
        "server is running and not overloaded, or raise timeout_ms.",
    )


UNREACHABLE_REASONS = {
    "dns": "its host name does not resolve",
    "refused": "the connection was refused",
    "reset": "the connection was closed before an answer arrived",
    "other": "the connection failed",
}


def unreachable(target: str, reason: str) -> ProbeFailure:
    why = UNREACHABLE_REASONS.get(reason, UNREACHABLE_REASONS["other"])
    return ProbeFailure(
        ErrorCode.UNREACHABLE,
        f"Could not reach {target}: {why}. Check the endpoint URL and that the server is running "
        "and reachable from this site.",
    )


# What went wrong in a TLS connection, and what the operator does about it.
TLS_PROBLEMS = {
    "untrusted": (
        "its certificate is not signed by a certificate authority this site trusts",
        "If the server uses an internal or self-signed CA, put that CA's certificate in a PEM "
        "file and name it in PROBE_CA_BUNDLE.",
    ),
    "hostname": (
        "its certificate is not valid for the host name in the endpoint",
        "Fix the endpoint's host name to one the certificate is issued for, or have the "
        "certificate reissued for this name.",
    ),
    "expired": (
        "its certificate has expired or is not valid yet",
        "Renew the server's certificate (and check this site's clock).",
    ),
    "certificate": (
        "its certificate could not be verified",
        "Trust the server's CA with PROBE_CA_BUNDLE, fix the endpoint's host name, or renew the "
        "certificate.",
    ),
    "handshake": (
        "the TLS handshake failed",
        "Check that the endpoint's port speaks HTTPS; then trust the server's CA with "
        "PROBE_CA_BUNDLE, fix the endpoint's host name, or renew the certificate.",
    ),
    "ca_bundle": (
        "the CA bundle named by PROBE_CA_BUNDLE cannot be read",
        "Point PROBE_CA_BUNDLE at a readable PEM file, or unset it to use the default bundle.",
    ),
}


def tls_error(target: str, problem: str) -> ProbeFailure:
    why, what_to_do = TLS_PROBLEMS.get(problem, TLS_PROBLEMS["handshake"])
    return ProbeFailure(
        ErrorCode.TLS_ERROR,
        f"The secure connection to {target} failed: {why}; no request was sent. {what_to_do}",
    )


def invalid_url() -> ProbeFailure:
    return ProbeFailure(
        ErrorCode.BAD_ENDPOINT,
        "The endpoint is not a usable http:// or https:// URL. Correct the endpoint.",
    )


def redirected(http_status: int) -> ProbeFailure:
    return ProbeFailure(
        ErrorCode.BAD_ENDPOINT,
        f"The endpoint answered with a redirect (HTTP {http_status}); redirects are not followed. "
        "Set the endpoint to the final URL.",
        http_status,
    )


def not_json(path: str, http_status: int | None) -> ProbeFailure:
    return ProbeFailure(
        ErrorCode.BAD_ENDPOINT,
        f"The answer to {path} is not JSON. Check that the endpoint points at the provider's API "
        "and that the provider kind is right.",
        http_status,
    )


def wrong_shape(path: str, expected: str, http_status: int | None) -> ProbeFailure:
    return ProbeFailure(
        ErrorCode.BAD_ENDPOINT,
        f"The answer to {path} is JSON but not {expected}. Check the endpoint URL and the "
        "provider kind.",
        http_status,
    )


def too_large(path: str, limit: int, http_status: int | None) -> ProbeFailure:
    return ProbeFailure(
        ErrorCode.BAD_ENDPOINT,
        f"The answer to {path} is larger than {limit} bytes and was cut off. Check that the "
        "endpoint points at the provider's API, not at a page or a file.",
        http_status,
    )


def model_not_found(model: str, listed: int) -> ProbeFailure:
    return ProbeFailure(
        ErrorCode.MODEL_NOT_FOUND,
        f"The server does not list the default model '{model}' ({listed} other model"
        f"{'' if listed == 1 else 's'} listed). Pull or load the model on the server, or change "
        "default_model.",
        200,
    )


def for_http_status(http_status: int, path: str, *, kind: str = "") -> ProbeFailure:
    """The failure for a non-2xx answer."""
    if 300 <= http_status < 400:
        return redirected(http_status)
    if http_status in (401, 403):
        return ProbeFailure(
            ErrorCode.AUTH_FAILURE,
            f"The endpoint rejected the credential (HTTP {http_status}). Rotate the provider's "
            "secret to a valid key, or check that the key has access to this endpoint.",
            http_status,
        )
    if http_status in (404, 405):
        hint = " An OpenAI-compatible endpoint usually ends in /v1." if kind == "openai_compatible" else ""
        return ProbeFailure(
            ErrorCode.BAD_ENDPOINT,
            f"The endpoint answered HTTP {http_status} for {path}. Check the endpoint URL and the "
            f"provider kind.{hint}",
            http_status,
        )
    if http_status == 429:
        return ProbeFailure(
            ErrorCode.RATE_LIMITED,
            "The endpoint is rate limiting requests (HTTP 429). Wait and test again, or raise the "
            "account's rate limit with the provider.",
            http_status,
        )
    if http_status == 503 and kind == "llama_cpp":
        return ProbeFailure(
            ErrorCode.SERVER_ERROR,
            "llama.cpp is still loading its model (HTTP 503). Wait for the load to finish, then "
            "test again.",
            http_status,
        )
    if http_status >= 500:
        return ProbeFailure(
            ErrorCode.SERVER_ERROR,
            f"The server answered HTTP {http_status}. Check the provider's logs or status page; the "
            "check passes again once it recovers.",
            http_status,
        )
    return ProbeFailure(
        ErrorCode.BAD_ENDPOINT,
        f"The endpoint answered HTTP {http_status} for {path}, which a probe does not expect. "
        "Check the endpoint URL and the provider kind.",
        http_status,
    )
