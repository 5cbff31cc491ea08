"""The one composition root: a validated config in, a solver out.

``rewardspec solve``, ``rewardspec eval`` and ``rewardspec serve`` all build
their solvers here, from the same settings (:class:`~rewardspec.settings.SolverSettings`,
which the eval and serve configs extend) and the same table of methods
(:mod:`rewardspec.methods.table`). Models are loaded on first use and shared
by every method of a run (:class:`~rewardspec.model_roles.Models`).
"""

from __future__ import annotations

from rewardspec.methods.acceptance import check_delta
from rewardspec.methods.base import DecodeConfig, Method
from rewardspec.methods.table import Parts, method_spec
from rewardspec.model_roles import Models
from rewardspec.settings import DEFAULT_DRAFT, DEFAULT_TARGET, SolverSettings, solver_settings

__all__ = ["DEFAULT_DRAFT", "DEFAULT_TARGET", "Models", "SolverSettings", "build_solver", "build_solvers",
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
    parts = Parts(settings, decode, models, settings.delta if delta is None else check_delta(delta),
                  dataset, sample_cache)
    return spec.build(parts)
