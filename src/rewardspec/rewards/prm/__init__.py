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
from rewardspec.models.hf_common import (
    check_options,
    parse_bool,
    parse_number,
    split_options,
)

COMMON_OPTIONS = ("device", "dtype", "cache_slots", "trust_remote_code", "name", "device_map")


def _text(value: str, key: str) -> str:
    return value


def _positive(value: str, key: str) -> float:
    return parse_number(value, key, float, 0.0, exclusive=True)


def _number(value: str, key: str) -> float:
    return parse_number(value, key, float)


@dataclass(frozen=True)
class Family:
    module: str
    cls: str
    default_source: str
    protocol: str
    options: dict[str, Callable[[str, str], Any]] = field(default_factory=dict)


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
    head = spec.strip().split("?", 1)[0].split(":", 1)[0].strip().lower()
    return head if head in FAMILIES else None


def is_prm_spec(spec: str) -> bool:
    return family_of(spec) is not None


def parse_prm_spec(spec: str) -> tuple[str, str, dict[str, Any]]:
    """``"orm:DIR?scale=2"`` -> ``("orm", "DIR", {"scale": 2.0})``, options checked and typed."""
    family = family_of(spec)
    if family is None:
        raise InvalidInputError(
            f"'{spec}' names no reward model family; expected one of {', '.join(FAMILIES)}"
        )
    body, raw = split_options(spec.strip())
    _, _, source = body.partition(":")
    fam = FAMILIES[family]
    check_options(spec, raw, (*COMMON_OPTIONS, *fam.options))
    options: dict[str, Any] = {}
    for key, value in raw.items():
        if key in fam.options:
            options[key] = fam.options[key](value, key)
        elif key == "cache_slots":
            options[key] = parse_number(value, key, int, 1)
        elif key == "trust_remote_code":
            options[key] = parse_bool(value, key)
        else:
            options[key] = value or None
    return family, source.strip() or fam.default_source, options


def load_prm(spec: str):
    """Build (once per process and spec) the reward model that ``spec`` names."""
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
