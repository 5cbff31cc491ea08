"""Real process reward models (and ORMs used as PRMs) on transformers.

One module per family, each scoring exactly as its authors' code does (see
docs/prms.md). Specs::

    FAMILY[:SOURCE][?key=value&key=value]

``SOURCE`` is a local directory (config.json, weights, tokenizer), or a hub
name (owner/model) fetched when the hub is reachable; without it the
family's reference checkpoint is used. Options common to all families:
``device`` (auto, cpu, cuda, cuda:N), ``dtype`` (auto, float32, bfloat16,
float16), ``device_map`` (e.g. auto: spread a large model over GPUs, with
accelerate), ``cache_slots`` (requests whose KV cache is kept, default 8),
``trust_remote_code`` and ``name``. Values are URL-decoded: write a newline
as ``%0A`` and "+" as ``%2B``.

This module is light: torch and transformers are imported when a model is
built, not when a spec is parsed.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

from rewardspec.errors import InvalidInputError
from rewardspec.specs import Options, Spec, parse_spec, split_prefix

COMMON_OPTIONS = ("device", "dtype", "cache_slots", "trust_remote_code", "name", "device_map")


def _text(options: Options, key: str) -> str:
    return str(options[key])


def _positive(options: Options, key: str) -> float:
    return options.number(key, minimum=0, exclusive=True)


def _number(options: Options, key: str) -> float:
    return options.number(key)


def _common(options: Options, key: str) -> Any:
    if key == "cache_slots":
        return options.number(key, integer=True, minimum=1)
    if key == "trust_remote_code":
        return options.flag(key)
    return options.text(key)


@dataclass(frozen=True)
class Family:
    module: str
    cls: str
    default_source: str
    protocol: str
    options: dict[str, Callable[[Options, str], Any]] = field(default_factory=dict)
    """The family's own options, each with how its value is read."""


FAMILIES: dict[str, Family] = {
    "qwen-prm": Family(
        "rewardspec.rewards.prm.qwen", "QwenMathPRM", "Qwen/Qwen2.5-Math-PRM-7B",
        "chat template + system prompt, steps joined by <extra_0>, P(label 1) at the last tag",
        {"system": _text, "step_tag": _text},
    ),
    "skywork-prm": Family(
        "rewardspec.rewards.prm.skywork", "SkyworkPRM", "Skywork/Skywork-o1-Open-PRM-Qwen-2.5-1.5B",
        "BOS + question + \\n, each line + step token, sigmoid(value head) at the last one",
        {"step_token": _text},
    ),
    "math-shepherd": Family(
        "rewardspec.rewards.prm.math_shepherd", "MathShepherdPRM",
        "peiyi9979/math-shepherd-mistral-7b-prm",
        "question + ' ' + steps each ending ' ки', P('+') vs '-' at the last tag",
        {"step_tag": _text, "good": _text, "bad": _text},
    ),
    "rlhflow": Family(
        "rewardspec.rewards.prm.rlhflow", "RLHFlowPRM", "RLHFlow/Llama3.1-8B-PRM-Deepseek-Data",
        "steps as user turns answered '+', P('+') vs '-' for the last reply",
        {"good": _text, "bad": _text},
    ),
    "orm": Family(
        "rewardspec.rewards.prm.orm", "OutcomeRewardAsPRM", "Skywork/Skywork-Reward-Llama-3.1-8B",
        "user question + assistant steps so far, sigmoid((score - center) / scale)",
        {"center": _number, "scale": _positive},
    ),
}

_LOADED: dict[str, Any] = {}


def family_of(spec: str) -> str | None:
    """The PRM family a spec names, or None if it names none."""
    return split_prefix(spec, FAMILIES)[0] or None


def is_prm_spec(spec: str) -> bool:
    return family_of(spec) is not None


def parse_prm_spec(spec: str | Spec) -> tuple[str, str, dict[str, Any]]:
    """``"orm:DIR?scale=2"`` -> ``("orm", "DIR", {"scale": 2.0})``, options checked and typed."""
    parsed = spec if isinstance(spec, Spec) else parse_spec(spec, FAMILIES)
    if parsed.prefix not in FAMILIES:
        raise InvalidInputError(
            f"'{parsed.text}' names no reward model family; expected one of {', '.join(FAMILIES)}"
        )
    fam = FAMILIES[parsed.prefix]
    raw = parsed.options.check((*COMMON_OPTIONS, *fam.options))
    options = {key: fam.options.get(key, _common)(raw, key) for key in raw}
    return parsed.prefix, parsed.body or fam.default_source, options


def load_prm(spec: str | Spec, load: object = None):
    """Build (once per process and spec) the reward model that ``spec`` names. ``load`` (the run's
    model loader, as every row of the rewards table gets) is unused: a PRM loads its own weights."""
    family, source_name, options = parse_prm_spec(spec)
    key = repr((family, source_name, sorted(options.items())))
    if key not in _LOADED:
        from rewardspec.models.hf_common import resolve_source

        source = resolve_source(source_name, f"{family}:SOURCE")
        fam = FAMILIES[family]
        cls = getattr(importlib.import_module(fam.module), fam.cls)
        _LOADED[key] = cls(source, **options)
    return _LOADED[key]


__all__ = ["FAMILIES", "family_of", "is_prm_spec", "load_prm", "parse_prm_spec"]
