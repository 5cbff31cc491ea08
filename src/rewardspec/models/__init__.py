"""Language-model backends behind one protocol, loaded by name or path."""

from __future__ import annotations

from rewardspec.models.base import ContinuationScore, LanguageModel, SamplingParams

__all__ = ["ContinuationScore", "LanguageModel", "SamplingParams", "load_model"]

_LOADED: dict[tuple, LanguageModel] = {}


def load_model(name_or_path: str, *, n_ctx: int = 4096, n_threads: int | None = None) -> LanguageModel:
    """Load an embedded model (registry name or alias) or a local GGUF file.

    Models are cached per process, so a draft that also serves as a reward
    model is loaded once and shares its KV cache.
    """
    from rewardspec.models.llama_cpp import LlamaCppModel
    from rewardspec.registry import resolve_gguf

    path, embedded = resolve_gguf(name_or_path)
    key = (str(path), n_ctx, n_threads)
    if key not in _LOADED:
        _LOADED[key] = LlamaCppModel(
            path, embedded.name if embedded else None, n_ctx=n_ctx, n_threads=n_threads
        )
    return _LOADED[key]
