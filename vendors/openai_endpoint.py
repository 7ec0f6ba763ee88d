"""An OpenAI-compatible serving engine over HTTP (vLLM, SGLang, llama.cpp's server, TGI's
Messages API, LM Studio, jan …): streamed ``/v1/completions`` or ``/v1/chat/completions``.

Configured by vendor options: ``endpoint`` (the server's base URL), ``model`` (default: the
first ``/v1/models`` lists), ``api``, ``api_key_env`` (the key is read from that environment
variable, never printed or stored) and ``timeout_s`` (the longest silence within a stream).
Exact output lengths are asked for with ``max_tokens`` plus ``min_tokens`` and ``ignore_eos``
(``exact_length``; engines that refuse unknown fields need it off), and each chunk's tokens are
counted from its ``logprobs``. What ran is recorded: the model id, the server's own headers.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from flagbench.api.contracts import Option, OptionValue, Probe, ServingRequest, Workload
from flagbench.api.errors import FlagbenchError
from flagbench.api.spec import PRECISIONS, RunSpec
from flagbench.measure.stream import StreamRecord

#: Response headers worth recording: they name the engine and its version where it says.
_HEADER_HINTS = ("server", "version", "x-powered-by", "openai-")


def check_endpoint(url: str) -> str:
    """The base URL without a trailing slash, or FlagbenchError with one line."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FlagbenchError(f"vendor option endpoint={url!r}: expected http(s)://HOST[:PORT]")
    if parts.username or parts.password:
        raise FlagbenchError("vendor option endpoint: put no credentials in the URL (use "
                             "-O api_key_env=VAR)")
    return url.rstrip("/")


class OpenAIEndpoint:
    """One configured endpoint: describes the server, sends timed streamed requests."""

    def __init__(self, base: str, model: str, api: str, key: str | None, exact: bool) -> None:
        self.base, self.model, self.api, self.exact = base, model, api, exact
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}

    async def describe(self, client: Any) -> dict[str, Any]:
        """The served model (``/v1/models``), checked against the one asked for, and the
        server's identifying headers."""
        import httpx

        try:
            response = await client.get(f"{self.base}/v1/models", headers=self.headers)
        except httpx.HTTPError as exc:
            raise FlagbenchError(f"endpoint {self.base} cannot be reached: "
                                 f"{type(exc).__name__}: {exc}") from None
        if response.status_code != 200:
            raise FlagbenchError(f"endpoint {self.base}/v1/models answered HTTP "
                                 f"{response.status_code}: not an OpenAI-compatible server?")
        try:
            served = [str(m["id"]) for m in response.json()["data"]]
        except (ValueError, KeyError, TypeError):
            raise FlagbenchError(f"endpoint {self.base}/v1/models did not list models as the "
                                 "OpenAI API does") from None
        if not served:
            raise FlagbenchError(f"endpoint {self.base} serves no model")
        if self.model and self.model not in served:
            raise FlagbenchError(f"model {self.model!r} is not served at {self.base} (served: "
                                 f"{', '.join(served[:5])})")
        self.model = self.model or served[0]
        headers = {k.lower(): v for k, v in response.headers.items()
                   if any(h in k.lower() for h in _HEADER_HINTS)}
        return {"model": self.model, "served_models": served[:20], "server_headers": headers,
                "api": self.api}

    def payload(self, request: ServingRequest) -> dict[str, Any]:
        """The request body: streamed, greedy, the exact length asked, logprobs per token."""
        body: dict[str, Any] = {"model": self.model, "max_tokens": request.max_tokens,
                                "stream": True, "temperature": 0.0,
                                "stream_options": {"include_usage": True}}
        if self.api == "chat":
            body |= {"messages": [{"role": "user", "content": request.prompt}],
                     "logprobs": True}
        else:
            body |= {"prompt": request.prompt, "logprobs": 1}
        if self.exact:
            body |= {"min_tokens": request.max_tokens, "ignore_eos": True}
        return body

    async def stream(self, client: Any, request: ServingRequest,
                     scheduled_s: float) -> StreamRecord:
        """One streamed request, timed chunk by chunk on the host's monotonic clock."""
        from flagbench.vendors.openai_stream import stream_request

        path = "/v1/chat/completions" if self.api == "chat" else "/v1/completions"
        result = await stream_request(client, self.base + path, self.payload(request),
                                      self.headers, scheduled_s, time.perf_counter)
        record: StreamRecord = result.record
        return record


class OpenAIVendor:
    """A serving engine that speaks the OpenAI API, measured from the client."""

    name = "openai"
    description = ("an OpenAI-compatible serving engine over HTTP (-O endpoint=URL): TTFT, "
                   "per-token ITL, TPOT, tokens/s; runs serving cases (llm-serve)")
    options: Mapping[str, Option] = {
        "endpoint": Option("", "the server's base URL, e.g. http://127.0.0.1:8000"),
        "model": Option("", "the model to ask for (default: the first /v1/models lists)"),
        "api": Option("completions", "which API to stream", choices=("completions", "chat")),
        "api_key_env": Option("", "environment variable holding the API key (never stored)"),
        "timeout_s": Option(60.0, "longest silence within a stream before it counts as an "
                            "error", minimum=0.1, maximum=3600.0),
        "exact_length": Option(True, "ask for exactly max_tokens (min_tokens, ignore_eos)"),
    }
    values: Mapping[str, OptionValue] = {k: o.default for k, o in options.items()}

    def with_options(self, values: Mapping[str, OptionValue]) -> OpenAIVendor:
        """A copy of this vendor for one endpoint; a bad URL is refused here, before any run."""
        vendor = copy.copy(self)
        if values["endpoint"]:
            check_endpoint(str(values["endpoint"]))
        vendor.values = dict(values)
        return vendor

    def probe(self) -> Probe:
        """Available with an endpoint and an HTTP client; reachability is the run's to find."""
        try:
            import httpx
            import httpx_sse  # noqa: F401
        except ImportError as exc:
            return Probe(False, f"the serving client is not installed (pip install "
                         f"'flagbench[serve]'): {exc}")
        endpoint = str(self.values["endpoint"])
        if not endpoint:
            return Probe(False, "give the server's URL: -O openai.endpoint=http://HOST:PORT")
        why = "the server decides its own precision; runs are labelled fp32"
        return Probe(True, devices=(endpoint,), versions={"httpx": httpx.__version__},
                     precisions=("fp32",),
                     unsupported={p: why for p in PRECISIONS if p != "fp32"})

    def endpoint(self, spec: RunSpec) -> OpenAIEndpoint:
        """The configured endpoint, its key read from the named environment variable."""
        var = str(self.values["api_key_env"])
        key = os.environ.get(var) if var else None
        if var and not key:
            raise FlagbenchError(f"vendor option api_key_env={var}: that variable is not set")
        return OpenAIEndpoint(check_endpoint(str(self.values["endpoint"])),
                              str(self.values["model"]), str(self.values["api"]), key,
                              bool(self.values["exact_length"]))

    @property
    def timeout_s(self) -> float:
        """The longest silence within a stream."""
        return float(self.values["timeout_s"])

    def prepare(self, workload: Workload) -> Any:
        """Never called: the plan pairs this vendor with serving cases only."""
        raise FlagbenchError("the openai vendor runs serving cases (llm-serve) only")
