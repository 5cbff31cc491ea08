"""The one composition root: a validated config in, a solver out.

``rewardspec solve``, ``rewardspec eval`` and ``rewardspec serve`` all build
their solvers here, from the same settings (:class:`~rewardspec.settings.SolverSettings`,
which the eval and serve configs extend) and the same table of methods
(:mod:`rewardspec.methods.table`). Models are loaded on first use and shared
by every method of a run (:class:`~rewardspec.model_roles.Models`).
"""

from __future__ import annotations

from rewardspec.errors import InvalidInputError
from rewardspec.methods.acceptance import check_delta
from rewardspec.methods.base import DecodeConfig, Method
from rewardspec.methods.table import Parts, method_spec
from rewardspec.model_roles import Models
from rewardspec.settings import DEFAULT_DRAFT, DEFAULT_TARGET, SolverSettings, solver_settings

__all__ = ["DEFAULT_DRAFT", "DEFAULT_TARGET", "Models", "SolverSettings", "build_solver", "build_solvers",
           "check_prompt_lookup",
           "solver_settings"]


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
    check_prompt_lookup(decode, models)
    parts = Parts(settings, decode, models, settings.delta if delta is None else check_delta(delta),
                  dataset, sample_cache)
    return spec.build(parts)


def check_prompt_lookup(decode: DecodeConfig, models: Models) -> None:
    """Prompt lookup runs inside an in-process model's decode; a model behind a server speculates
    there, if its server is started so (``rewardspec launch``'s ``speculative_config``)."""
    if not decode.prompt_lookup:
        return
    for role in decode.prompt_lookup_roles:
        model = models.loaded(role)
        if model is not None and not hasattr(model, "lookahead_shape"):
            raise InvalidInputError(
                f"prompt_lookup needs an in-process model (llama.cpp or transformers), but the {role} is "
                f"'{getattr(model, 'name', role)}' behind a server; start that server with a speculative config "
                "(rewardspec launch, speculative_config: {method: ngram}), or leave the role out of "
                "prompt_lookup_roles")
