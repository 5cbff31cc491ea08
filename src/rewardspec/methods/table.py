"""Every decoding method, in one table: name -> builder, the roles it needs, what it depends on.

The CLI, the evaluation harness and the server all read this table (through
:mod:`rewardspec.build`), so a new method is one file plus one row here:

* ``roles``: the models it asks for (``draft``, ``target``, ``reward``); only
  those are loaded;
* ``settings``: the config fields its results depend on, beyond the decoding
  limits every method shares (eval refuses to resume a run when one changed);
* ``build``: makes the solver from :class:`Parts`.

Every solver has one verb, ``solve(question_or_messages, on_step=None) -> Trace``
(the :class:`~rewardspec.methods.base.Method` protocol), as search-and-learn's approaches
share one signature, and every solver reports through ``on_step`` the steps it returns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rewardspec.methods.base import DecodeConfig, Method

if TYPE_CHECKING:
    from rewardspec.model_roles import Models
    from rewardspec.settings import SolverSettings


@dataclass(frozen=True)
class Parts:
    """What a builder may use: validated settings, decoding limits and the shared models."""

    settings: SolverSettings
    decode: DecodeConfig
    models: Models
    delta: float
    dataset: str = "math"
    sample_cache: dict | None = None
    """Shared by best_of_n and majority within one run, so they draw their samples once."""


@dataclass(frozen=True)
class MethodSpec:
    name: str
    roles: tuple[str, ...]
    settings: tuple[str, ...]
    build: Callable[[Parts], Method]
    help: str


def _rsd(p: Parts) -> Method:
    from rewardspec.methods.rsd import RSD

    s = p.settings
    return RSD(draft=p.models.draft, target=p.models.target, reward=p.models.reward, delta=p.delta,
               rule=s.rule, config=p.decode, escalate_after=s.escalate_after, route=p.models.router())


def _single(role: str) -> Callable[[Parts], Method]:
    def build(p: Parts) -> Method:
        from rewardspec.methods.single import SingleModel

        return SingleModel(getattr(p.models, role), role, p.decode)  # type: ignore[arg-type]
    return build


def _sd(p: Parts) -> Method:
    from rewardspec.methods.speculative import SpeculativeDecoding

    return SpeculativeDecoding.over(p.models.draft, p.models.target, p.settings.num_pred_tokens, p.decode)


def _best_of_n(p: Parts) -> Method:
    from rewardspec.methods.best_of_n import BestOfN

    s = p.settings
    return BestOfN(p.models.draft, p.models.reward, s.n, s.aggregation, s.sample_temperature, p.decode,
                   cache=p.sample_cache)


def _majority(p: Parts) -> Method:
    from rewardspec.methods.majority import MajorityVote

    s = p.settings
    return MajorityVote(p.models.draft, s.n, s.sample_temperature, p.dataset, p.decode, cache=p.sample_cache)


def _step_search(method: str) -> Callable[[Parts], Method]:
    def build(p: Parts) -> Method:
        from rewardspec.methods.step_search import StepSearch

        s = p.settings
        beam = 1 if method == "process_best_of_n" else s.beam_size
        return StepSearch(p.models.draft, p.models.reward, s.width, beam, s.sample_temperature, s.aggregation,
                          p.decode, method=method)
    return build


_SEARCH = ("temperature", "sample_temperature", "aggregation")
METHODS: dict[str, MethodSpec] = {spec.name: spec for spec in (
    MethodSpec("rsd", ("draft", "target", "reward"), ("draft", "target", "reward", "delta", "rule", "escalate_after",
                                                        "route", "temperature"),
               _rsd, "reward-guided speculative decoding"),
    MethodSpec("target", ("target",), ("target", "temperature"), _single("target"), "the target alone"),
    MethodSpec("draft", ("draft",), ("draft", "temperature"), _single("draft"), "the draft alone"),
    MethodSpec("sd", ("draft", "target"), ("draft", "target", "num_pred_tokens"), _sd,
               "token-level speculative decoding (llama.cpp, greedy; draft and target share a tokenizer)"),
    MethodSpec("best_of_n", ("draft", "reward"), ("draft", "reward", "n", *_SEARCH), _best_of_n,
               "n draft samples, the best by aggregated step reward"),
    MethodSpec("majority", ("draft",), ("draft", "n", "temperature", "sample_temperature"), _majority,
               "n draft samples, the most common answer"),
    MethodSpec("process_best_of_n", ("draft", "reward"), ("draft", "reward", "width", *_SEARCH),
               _step_search("process_best_of_n"), "width candidates a step, the best kept"),
    MethodSpec("beam", ("draft", "reward"), ("draft", "reward", "width", "beam_size", *_SEARCH),
               _step_search("beam"), "beam search over steps with the reward"),
)}


def method_spec(name: str) -> MethodSpec:
    """The table row for ``name``, or one clear error listing the methods there are."""
    from rewardspec.errors import InvalidInputError

    spec = METHODS.get(name)
    if spec is None:
        raise InvalidInputError(f"unknown method '{name}'; choose one of {', '.join(METHODS)}")
    return spec


def roles_of(methods: Any) -> set[str]:
    """The roles some method in ``methods`` needs."""
    return {role for name in methods for role in method_spec(name).roles}
