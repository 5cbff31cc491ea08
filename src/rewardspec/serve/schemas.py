"""Request bodies of the OpenAI-compatible API, and the error body.

Unknown fields are accepted and ignored (clients send many), except those
that would change the answer in a way RSD does not support (tools, logprobs,
presence and frequency penalties, JSON mode...): those are refused with 400,
never silently dropped. vLLM's sampling extras (top_k, min_p,
repetition_penalty) are honoured by every method that samples tokens itself.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from rewardspec.errors import InvalidInputError
from rewardspec.steps import check_stops



class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = False


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    name: str | None = None


class RequestBase(BaseModel):
    """Fields shared by /v1/chat/completions and /v1/completions."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    # vLLM's sampling extras, which lm-evaluation-harness and other clients pass through
    top_k: int | None = Field(None, ge=-1, description="-1 or 0: all tokens.")
    min_p: float | None = Field(None, ge=0.0, le=1.0)
    repetition_penalty: float | None = Field(None, gt=0.0, le=10.0)
    seed: int | None = None
    stop: str | list[str] | None = None
    n: int = Field(1, ge=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = None
    # Accepted at their neutral values only (see unsupported()).
    presence_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    frequency_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    logit_bias: dict[str, float] | None = None
    # rewardspec extensions
    rsd_delta: float | None = Field(None, ge=0.0, le=1.0,
                                    description="Acceptance threshold for this request.")
    method: str | None = Field(None, min_length=1,
                               description="Any method the server serves (rsd, target, draft, best_of_n, ...).")

    @field_validator("stop")
    @classmethod
    def _stops(cls, value: str | list[str] | None) -> str | list[str] | None:
        if value is not None:
            try:
                check_stops([value] if isinstance(value, str) else value)
            except InvalidInputError as exc:
                raise ValueError(str(exc)) from None
        return value

    def stop_sequences(self) -> tuple[str, ...]:
        if self.stop is None:
            return ()
        stops = [self.stop] if isinstance(self.stop, str) else self.stop
        return tuple(s for s in stops if s)

    def sampling_overrides(self) -> dict[str, Any]:
        """The sampling fields this request sets, as DecodeConfig names them."""
        values = {"temperature": self.temperature, "top_p": self.top_p, "min_p": self.min_p,
                  "repetition_penalty": self.repetition_penalty,
                  "top_k": None if self.top_k is None else max(self.top_k, 0)}
        return {k: v for k, v in values.items() if v is not None}

    def unsupported(self) -> tuple[str, str] | None:
        """(param, message) for the first field set to something we cannot honour."""
        if self.presence_penalty:
            return "presence_penalty", "presence_penalty is not supported; leave it at 0"
        if self.frequency_penalty:
            return "frequency_penalty", "frequency_penalty is not supported; leave it at 0"
        if self.logit_bias:
            return "logit_bias", "logit_bias is not supported"
        extra = self.model_extra or {}
        for key in ("logprobs", "top_logprobs", "echo"):
            if extra.get(key):
                return key, f"{key} is not supported by this server"
        for key in ("tools", "functions", "tool_choice", "function_call"):
            if extra.get(key) not in (None, [], "none"):
                return key, "tool and function calling are not supported by this server"
        fmt = extra.get("response_format")
        if isinstance(fmt, dict) and fmt.get("type") not in (None, "text"):
            return "response_format", "only the text response format is supported"
        if (extra.get("best_of") or 1) != 1:
            return "best_of", "best_of is not supported; use n"
        if extra.get("suffix"):
            return "suffix", "suffix (insertion) is not supported"
        return None


class ChatCompletionRequest(RequestBase):
    messages: list[ChatMessage] = Field(min_length=1)
    max_completion_tokens: int | None = Field(None, ge=1)


class CompletionRequest(RequestBase):
    prompt: str | list[str] | list[int] | list[list[int]]


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


def error_body(message: str, type: str, param: str | None = None,
               code: str | None = None) -> dict[str, Any]:
    return ErrorResponse(error=ErrorDetail(message=message, type=type, param=param,
                                           code=code)).model_dump()
