"""Every decoding method, in one table: name -> builder, the roles it needs, what it depends on.

The CLI, the evaluation harness and the server all read this table (through
:mod:`rewardspec.build`), so a new method is one file plus one row here:

* ``roles``: the models it asks for (``draft``, ``target``, ``reward``); only
  those are loaded;
* ``settings``: the config fields its results depend on, beyond the decoding
  limits every method shares (eval refuses to resume a run when one changed);
* ``build``: makes the solver from :class:`Parts`.

Every solver has one verb, ``solve(question_or_messages, on_step=None) -> Trace``
(the :class:`Method` protocol), as search-and-learn's approaches share one signature.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from rewardspec.models.base import Message
from rewardspec.types import Step, Trace

if TYPE_CHECKING:
    from rewardspec.build import Models, SolverSettings
    from rewardspec.methods.rsd import DecodeConfig


class Method(Protocol):
    """What every solver offers: answer one question, reporting each step as it is decided."""

    method: str

    def solve(self, question: str | list[Message], on_step: Callable[[Step], None] | None = None) -> Trace:
        ...


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


def _loop(method: str) -> Callable[[Parts], Method]:
    def build(p: Parts) -> Method:
        from rewardspec.methods.rsd import RSD

        roles = METHODS[method].roles
        return RSD(draft=p.models.draft if "draft" in roles else None,
                   target=p.models.target if "target" in roles else None,
                   reward=p.models.reward if "reward" in roles else None,
                   delta=p.delta, rule=p.settings.rule, method=method,  # type: ignore[arg-type]
                   config=p.decode, escalate_after=p.settings.escalate_after if method == "rsd" else 0,
                   route=p.models.router() if method == "rsd" else None)
    return build


def _sd(p: Parts) -> Method:
    from rewardspec.methods.speculative import SpeculativeDecoding

    return SpeculativeDecoding.over(p.models.draft, p.models.target, p.settings.num_pred_tokens, p.decode)


def _best_of_n(p: Parts) -> Method:
    from rewardspec.methods.search import BestOfN

    s = p.settings
    return BestOfN(p.models.draft, p.models.reward, s.n, s.aggregation, s.sample_temperature, p.decode,
                   cache=p.sample_cache)


def _majority(p: Parts) -> Method:
    from rewardspec.methods.search import MajorityVote

    s = p.settings
    return MajorityVote(p.models.draft, s.n, s.sample_temperature, p.dataset, p.decode, cache=p.sample_cache)


def _step_search(method: str) -> Callable[[Parts], Method]:
    def build(p: Parts) -> Method:
        from rewardspec.methods.search import StepSearch

        s = p.settings
        beam = 1 if method == "process_best_of_n" else s.beam_size
        return StepSearch(p.models.draft, p.models.reward, s.width, beam, s.sample_temperature, s.aggregation,
                          p.decode, method=method)
    return build


_SEARCH = ("sample_temperature", "aggregation")
METHODS: dict[str, MethodSpec] = {spec.name: spec for spec in (
    MethodSpec("rsd", ("draft", "target", "reward"), ("draft", "target", "reward", "delta", "rule", "escalate_after",
                                                        "route", "temperature"),
               _loop("rsd"), "reward-guided speculative decoding"),
    MethodSpec("target", ("target",), ("target", "temperature"), _loop("target"), "the target alone"),
    MethodSpec("draft", ("draft",), ("draft", "temperature"), _loop("draft"), "the draft alone"),
    MethodSpec("sd", ("draft", "target"), ("draft", "target", "num_pred_tokens", "temperature"), _sd,
               "token-level speculative decoding (llama.cpp; draft and target share a tokenizer)"),
    MethodSpec("best_of_n", ("draft", "reward"), ("draft", "reward", "n", *_SEARCH), _best_of_n,
               "n draft samples, the best by aggregated step reward"),
    MethodSpec("majority", ("draft",), ("draft", "n", "sample_temperature"), _majority,
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
