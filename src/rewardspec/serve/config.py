"""The server's configuration: which models, which reward, what limits.

A YAML or JSON file (or nothing: the defaults run RSD on the embedded CPU
models). Every field is checked by pydantic; a bad file stops the server
before any model loads, with one line that names the field.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ConfigDict, Field, ValidationError, field_validator, model_validator

from rewardspec.settings import SolverSettings, describe_problems
from rewardspec.config_files import read_settings
from rewardspec.errors import InvalidInputError
from rewardspec.methods.table import METHODS
from rewardspec.prompts import QWEN_MATH_COT_SYSTEM


class ConfigError(InvalidInputError):
    """The server configuration file is missing, unreadable or invalid."""


class ServeConfig(SolverSettings):
    """Everything ``rewardspec serve`` needs; every field has a default.

    The models, reward, δ, rule and each method's knobs (n, width, ...) are the
    :class:`~rewardspec.build.SolverSettings` every command shares.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    # -- models -----------------------------------------------------------
    n_ctx: int = Field(4096, ge=256, description="Context window of each llama.cpp model.")
    n_threads: int | None = Field(None, ge=1, description="CPU threads per model (default: all).")

    # -- what is served ----------------------------------------------------
    model_id: str = Field("rsd", min_length=1, pattern=r"^[A-Za-z0-9._:/-]+$",
                          description="The model id clients ask for; it runs RSD.")
    methods: tuple[str, ...] = Field(
        ("rsd", "target", "draft"), min_length=1,
        description=f"Methods served, any of {', '.join(METHODS)}. 'target' and 'draft' are also "
                    "served as model ids '<model_id>-target' and '<model_id>-draft'.")
    default_method: str = "rsd"

    # -- limits ------------------------------------------------------------
    max_concurrent_requests: int = Field(
        8, ge=1, le=1024,
        description="Requests decoding at once; more wait in line (max_queued_requests).")
    max_queued_requests: int = Field(
        256, ge=0, le=100_000,
        description="Requests that wait, first come first served, for a decoding slot; one more gets 429 "
                    "with Retry-After. A waiting request holds only its parsed body.")
    queue_timeout: float = Field(
        600.0, gt=0, le=86_400,
        description="Seconds a request may wait in line; then it gets 429 with Retry-After.")
    max_tokens: int = Field(2048, ge=1, description="Most response tokens a request may ask for.")
    default_max_tokens: int = Field(512, ge=1, description="max_tokens when a request names none.")
    total_token_multiple: int = Field(
        4, ge=1, description="Ceiling on the tokens all models generate for one choice, rejected drafts "
                             "included, as a multiple of its max_tokens; reaching it ends the answer.")
    max_n: int = Field(4, ge=1, le=128, description="Most choices (n) per request.")

    # -- decoding defaults (temperature, top_p, max_steps, repetition_limit, separator: the
    # DecodeSettings every front end shares; a request may set temperature and top_p) --------
    seed: int | None = Field(None, description="Seed of requests that send none (None: a fresh one per "
                                               "request, reported back in each choice's rsd.seed).")
    system_prompt: str | None = Field(
        QWEN_MATH_COT_SYSTEM,
        description="System prompt for /v1/completions prompts (chat requests bring their own).")
    isolate_requests: bool = Field(
        True,
        description="Give each request a private KV cache, so its output does not depend on "
                    "other requests (see docs/serving.md).")

    # -- network -----------------------------------------------------------
    host: str = Field("127.0.0.1", min_length=1)
    port: int = Field(8000, ge=0, le=65535)
    api_key: str | None = Field(
        None, description="If set, requests must send 'Authorization: Bearer <api_key>'.")
    max_request_bytes: int = Field(4 * 1024 * 1024, ge=1024,
                                   description="Largest request body accepted; a larger one gets 413.")

    @field_validator("methods")
    @classmethod
    def _known_methods(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [m for m in value if m not in METHODS]
        if unknown:
            raise ValueError(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}")
        return tuple(dict.fromkeys(value))

    @model_validator(mode="after")
    def _consistent(self) -> ServeConfig:
        if self.default_max_tokens > self.max_tokens:
            raise ValueError(f"default_max_tokens ({self.default_max_tokens}) exceeds "
                             f"max_tokens ({self.max_tokens})")
        if "sd" in self.methods and self.repetition_penalty != 1.0:
            raise ValueError("method 'sd' decodes in llama.cpp's own loop, where our repetition penalty cannot "
                             "apply; set repetition_penalty: 1, or leave sd out of methods")
        if "sd" in self.methods and self.temperature > 0:
            raise ValueError(f"method 'sd' decodes greedily, so a default temperature of {self.temperature} "
                             "cannot apply to it; set temperature: 0, or leave sd out of methods")
        if self.default_method not in self.methods:
            raise ValueError(f"default_method '{self.default_method}' is not among the served "
                             f"methods {list(self.methods)}")
        return self

    def model_ids(self) -> dict[str, str | None]:
        """Served model ids and the method each pins (None: the request's ``method`` decides)."""
        ids: dict[str, str | None] = {self.model_id: None}
        for method in ("target", "draft"):
            if method in self.methods:
                ids[f"{self.model_id}-{method}"] = method
        return ids


def parse_config(data: object, source: str = "config") -> ServeConfig:
    """Validate a mapping as a :class:`ServeConfig`; errors become :class:`ConfigError`."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of settings, got {type(data).__name__}")
    try:
        return ServeConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {describe_problems(exc)}") from None


def load_config(path: str | Path | None) -> ServeConfig:
    """Read a YAML (.yaml, .yml) or JSON file; ``None`` gives the defaults."""
    if path is None:
        return ServeConfig()
    data = read_settings(path, "server config", ConfigError)
    return parse_config(data, str(path))
