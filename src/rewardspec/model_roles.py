"""The draft, target and reward of one run, loaded on first use and shared by its methods."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rewardspec.settings import SolverSettings

if TYPE_CHECKING:
    from rewardspec.methods.routing import QuestionRouter


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
        self._route_checked = False

    def _get(self, role: str) -> Any:
        if role not in self._loaded:
            if role == "reward":
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
            from rewardspec.methods.routing import load_router

            self._loaded["route"] = load_router(self.settings.route, self.role_or_model)
        return self._loaded["route"]

    def load(self, roles: set[str] | tuple[str, ...]) -> None:
        """Load these roles now; the reward first and the route's spec next, so a typo in either
        fails before any language model loads."""
        if "reward" in roles:
            self._get("reward")
        if self.settings.route is not None and not self._route_checked:
            from rewardspec.methods.routing import parse_route

            parse_route(self.settings.route)
            self._route_checked = True
        for role in roles:
            self._get(role)

    def loaded(self, role: str) -> Any | None:
        return self._loaded.get(role)
