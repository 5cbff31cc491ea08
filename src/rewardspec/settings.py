"""The settings every command shares: models and reward, each method's knobs, and decoding.

``rewardspec solve`` (through :func:`solver_settings`), the eval config and the server
config all derive from :class:`SolverSettings`, and all report bad values through one
formatter (:func:`describe_problems`), so a typo reads the same wherever it was made.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from rewardspec.methods.acceptance import DEFAULT_DELTA, RULE_KINDS, RULES, check_delta
from rewardspec.methods.base import DecodeConfig
from rewardspec.methods.sampler import AGGREGATIONS
from rewardspec.prompts import PROMPTS
from rewardspec.rewards import DEFAULT_REWARD
from rewardspec.steps import DEFAULT_REPETITION_LIMIT, DEFAULT_SEPARATOR

__all__ = ["CONFIG_RULES", "DEFAULT_DRAFT", "DEFAULT_TARGET", "DecodeSettings", "SolverSettings",
           "describe_problems", "solver_settings"]

DEFAULT_DRAFT = "qwen2.5-coder-0.5b"
DEFAULT_TARGET = "qwen2.5-coder-1.5b"
#: Rules a config may name: every row of the rules table, the unlisted ablations (always, never) too.
CONFIG_RULES = tuple(RULE_KINDS)


class DecodeSettings(BaseModel):
    """How every method decodes, whatever the front end: the run's (eval, solve) or the
    server's defaults for requests that leave them out. What varies per run or per request
    (max_tokens, the seed, the ceiling) is given to :meth:`decode_config`."""

    model_config = ConfigDict(extra="forbid")

    temperature: float = Field(0.0, ge=0.0, le=2.0, description="Sampling temperature (0: greedy). The search "
                               "methods sample at sample_temperature while this is 0; sd refuses anything but 0.")
    top_p: float = Field(1.0, gt=0.0, le=1.0, description="Nucleus sampling mass.")
    top_k: int = Field(0, ge=0, description="Sample among the k most likely tokens only (0: all).")
    min_p: float = Field(0.0, ge=0.0, le=1.0, description="Drop tokens less likely than min_p times the "
                         "most likely one (0: none).")
    repetition_penalty: float = Field(1.0, gt=0.0, le=10.0, description="Penalise tokens already in the "
                                      "prompt or the response (1: off).")
    max_steps: int = Field(64, ge=1, description="Most steps in one answer.")
    repetition_limit: int = Field(DEFAULT_REPETITION_LIMIT, ge=0,
                                  description="Tokens of repetition that end a step as a loop (0: off).")
    separator: str = Field(DEFAULT_SEPARATOR, min_length=1, description="Where a step ends.")
    rewrite_reuse: bool = Field(False, description="RSD: the target checks a rejected draft step in batched "
                                "passes and keeps the tokens it agrees with (same text, fewer decode passes).")
    prompt_lookup: int = Field(0, ge=0, le=64, description="Tokens per n-gram guess from the context, checked "
                               "in each in-process model's decode (same text; 0: off).")
    prompt_lookup_roles: list[Literal["draft", "target"]] = Field(
        ["draft", "target"], min_length=1, description="Roles whose decode uses prompt lookup.")

    def decode_config(self, **per_run: Any) -> DecodeConfig:
        """The limits one run or request decodes under: these settings and ``per_run``'s."""
        values = dict(temperature=self.temperature, top_p=self.top_p, top_k=self.top_k, min_p=self.min_p,
                      repetition_penalty=self.repetition_penalty, max_steps=self.max_steps,
                      repetition_limit=self.repetition_limit, separator=self.separator,
                      rewrite_reuse=self.rewrite_reuse, prompt_lookup=self.prompt_lookup,
                      prompt_lookup_roles=tuple(self.prompt_lookup_roles))
        return DecodeConfig(**(values | per_run))


class SolverSettings(DecodeSettings):
    """Which models and reward, each method's own knobs, and decoding; shared by every config."""

    draft: str = Field(DEFAULT_DRAFT, min_length=1, description="Draft model: any name or path load_model accepts.")
    target: str = Field(DEFAULT_TARGET, min_length=1,
                        description="Target model: any name or path load_model accepts.")
    reward: str = Field(DEFAULT_REWARD, min_length=1, description="Reward spec (see make_reward).")
    delta: float = Field(DEFAULT_DELTA, description="RSD's acceptance threshold δ in [0, 1].")
    rule: str = Field("binary", description=f"Acceptance rule ω: {', '.join(RULES)}.")
    escalate_after: int = Field(0, ge=0, description="RSD: after this many rejected draft steps in a "
                                "question, the target writes the rest (δ per question; 0: never).")
    route: Optional[str] = Field(None, min_length=1, description="RSD: δ per question, set before solving by "
                                 "a question head: 'head:PATH_OR_NAME?target_below=P&draft_above=Q' "
                                 "(the target writes questions below P, the draft those at or above Q).")
    n: int = Field(8, ge=1, description="Samples for best_of_n and majority.")
    width: int = Field(4, ge=1, description="Candidates per step for process_best_of_n and beam.")
    beam_size: int = Field(2, ge=1, description="Beams kept per step for beam.")
    aggregation: str = Field("last", description=f"Step-reward aggregation: {', '.join(AGGREGATIONS)}.")
    num_pred_tokens: int = Field(4, ge=1, description="Draft tokens proposed per sd round.")
    sample_temperature: float = Field(0.7, ge=0.0, description="Temperature of the search methods' samples.")

    @field_validator("rule", "aggregation", "prompt", check_fields=False)
    @classmethod
    def _one_of_the_known(cls, value: str, info: ValidationInfo) -> str:
        """Fields chosen from a known list (``prompt`` is the eval config's)."""
        known = {"rule": CONFIG_RULES, "aggregation": AGGREGATIONS, "prompt": PROMPTS}[info.field_name]
        if value not in known:
            shown = RULES if info.field_name == "rule" else known
            what = "acceptance rule" if info.field_name == "rule" else info.field_name
            raise ValueError(f"unknown {what} {value!r}; choose from {', '.join(shown)}")
        return value

    @field_validator("draft", "target", mode="before")
    @classmethod
    def _remote_role(cls, value: Any) -> Any:
        """A role written as a mapping (``backend: openai``, ``model``, ``base_urls``…) is a
        remote model; it is kept as its one-line spec, as run records store it."""
        from rewardspec.errors import InvalidInputError
        from rewardspec.models.remote import role_spec

        try:
            return role_spec(value)
        except InvalidInputError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("delta")
    @classmethod
    def _delta(cls, value: float) -> float:
        from rewardspec.errors import InvalidInputError

        try:
            return check_delta(value)
        except InvalidInputError as exc:
            raise ValueError(str(exc)) from None


def solver_settings(**values: Any) -> SolverSettings:
    """Settings from keyword values (None: the default), refused in one line when one is bad."""
    from pydantic import ValidationError

    from rewardspec.errors import InvalidInputError

    try:
        return SolverSettings(**{k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        raise InvalidInputError(describe_problems(exc)) from None


def describe_problems(exc: Any) -> str:
    """A pydantic ValidationError as one line: each bad field, then what was wrong with it
    ("delta: must be in [0, 1]; rule: unknown acceptance rule 'hard'; ...")."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "config"
        parts.append(f"{where}: {err['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)
