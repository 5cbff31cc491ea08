"""The one composition root: a validated config in, a solver out.

``rewardspec solve``, ``rewardspec eval`` and ``rewardspec serve`` all build
their solvers here, from the same settings (:class:`SolverSettings`, which
the eval and serve configs extend) and the same table of methods
(:mod:`rewardspec.methods.table`). Models are loaded on first use and shared
by every method of a run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from rewardspec.methods.acceptance import DEFAULT_DELTA, RULES, check_delta
from rewardspec.methods.rsd import DecodeConfig
from rewardspec.methods.search import AGGREGATIONS
from rewardspec.methods.table import Method, Parts, method_spec
from rewardspec.prompts import PROMPTS
from rewardspec.rewards import DEFAULT_REWARD

if TYPE_CHECKING:
    from rewardspec.methods.routing import QuestionRouter

__all__ = ["DEFAULT_DRAFT", "DEFAULT_TARGET", "Models", "SolverSettings", "build_solver", "build_solvers",
           "solver_settings"]

DEFAULT_DRAFT = "qwen2.5-coder-0.5b"
DEFAULT_TARGET = "qwen2.5-coder-1.5b"
#: Rules a config may name: the paper's and the soft ones, plus the two constant ones for ablations.
CONFIG_RULES = (*RULES, "always", "never")


class SolverSettings(BaseModel):
    """Which models and reward, and each method's own knobs; shared by every config."""

    model_config = ConfigDict(extra="forbid")

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


class Models:
    """The draft, target and reward of one run, each loaded on first use and then shared.

    ``loader`` turns a model spec into a model (default :func:`rewardspec.models.load_model`);
    the server passes one that installs its fair locks.
    """

    def __init__(self, settings: SolverSettings, loader: Callable[[str], Any] | None = None) -> None:
        if loader is None:
            from rewardspec.models import load_model

            loader = load_model
        self.settings, self.loader = settings, loader
        self._loaded: dict[str, Any] = {}
        self._parent: Models | None = None
        self._wrap: Callable[[Any], Any] = lambda model: model
        self._route_checked = False

    def _get(self, role: str) -> Any:
        if role not in self._loaded:
            if self._parent is not None:
                model = self._parent._get(role)
                self._loaded[role] = model if role == "reward" else self._wrap(model)
            elif role == "reward":
                from rewardspec.rewards import make_reward

                self._loaded[role] = make_reward(self.settings.reward, self.role_or_model)
            else:
                self._loaded[role] = self.loader(getattr(self.settings, role))
        return self._loaded[role]

    def role_or_model(self, spec: str) -> Any:
        """What a reward spec names: ``target`` and ``draft`` are this run's own (one
        instance and KV cache with the role's), anything else a model spec."""
        return self._get(spec) if spec in ("target", "draft") else self.loader(spec)

    @property
    def draft(self) -> Any:
        return self._get("draft")

    @property
    def target(self) -> Any:
        return self._get("target")

    @property
    def reward(self) -> Any:
        return self._get("reward")

    def router(self) -> QuestionRouter | None:
        """The settings' question route (:mod:`rewardspec.methods.routing`), built on first use."""
        if self.settings.route is None:
            return None
        if "route" not in self._loaded:
            from dataclasses import replace

            from rewardspec.methods.routing import load_router

            if self._parent is not None:  # the head is read once; each view reads through its own wrap
                shared = self._parent.router()
                self._loaded["route"] = replace(shared, model=self._wrap(shared.model))
            else:
                self._loaded["route"] = load_router(self.settings.route, self.role_or_model)
        return self._loaded["route"]

    def load(self, roles: set[str] | tuple[str, ...]) -> None:
        """Load these roles now; the reward first and the route's spec next, so a typo in either
        fails before any language model loads."""
        if "reward" in roles:
            self._get("reward")
        if self.settings.route is not None and self._parent is None and not self._route_checked:
            from rewardspec.methods.routing import parse_route

            parse_route(self.settings.route)
            self._route_checked = True
        for role in roles:
            self._get(role)

    def loaded(self, role: str) -> Any | None:
        return self._loaded.get(role)

    def view(self, wrap: Callable[[Any], Any]) -> Models:
        """The same models, the language models wrapped by ``wrap`` (the server meters each request's)."""
        other = Models(self.settings, self.loader)
        other._parent, other._wrap = self, wrap
        return other


def solver_settings(**values: Any) -> SolverSettings:
    """Settings from keyword values (None: the default), refused in one line when one is bad."""
    from pydantic import ValidationError

    from rewardspec.errors import InvalidInputError

    try:
        return SolverSettings(**{k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        raise InvalidInputError(first_problem(exc)) from None


def first_problem(exc) -> str:
    """A pydantic ValidationError as one line: where, then what ("delta: must be in [0, 1]")."""
    first = exc.errors()[0]
    return f"{'.'.join(map(str, first['loc']))}: {first['msg'].removeprefix('Value error, ')}"


def build_solvers(methods: tuple[str, ...] | list[str], settings: SolverSettings, decode: DecodeConfig,
                  models: Models | None = None) -> dict[str, Method]:
    """One solver per method, all over the same models (loaded once, the reward first)."""
    models = models or Models(settings)
    for name in methods:
        method_spec(name)  # every name checked before any model loads
    return {name: build_solver(name, settings, decode, models) for name in methods}


def build_solver(method: str, settings: SolverSettings, decode: DecodeConfig, models: Models, *,
                 delta: float | None = None, dataset: str = "math",
                 sample_cache: dict | None = None) -> Method:
    """The solver for ``method``, over ``models``; ``delta`` overrides the settings' (a sweep, a request)."""
    spec = method_spec(method)
    models.load(spec.roles)
    parts = Parts(settings, decode, models, settings.delta if delta is None else check_delta(delta),
                  dataset, sample_cache)
    return spec.build(parts)
