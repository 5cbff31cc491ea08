"""Language-model backends behind one protocol, loaded by name or path."""

from __future__ import annotations

from rewardspec.models.base import ContinuationScore, LanguageModel, SamplingParams

__all__ = ["ContinuationScore", "LanguageModel", "SamplingParams", "load_model"]

_LOADED: dict[tuple, LanguageModel] = {}


def load_model(name_or_path: str, *, n_ctx: int = 4096, n_threads: int | None = None) -> LanguageModel:
    """Load an embedded model (registry name or alias) or a local GGUF file.

    ``transformers:SOURCE[?device=..&dtype=..]`` loads SOURCE (a local
    directory, a .gguf file, an embedded model or a hub name) with the
    transformers backend instead (see models/transformers_backend.py).

    Models are cached per process, so a draft that also serves as a reward
    model is loaded once and shares its KV cache.
    """
    if name_or_path.strip().startswith("transformers:"):
        from rewardspec.models.transformers_backend import load_transformers_model

        spec = name_or_path.strip()[len("transformers:"):]
        hf_key = ("transformers", spec, n_ctx)
        if hf_key not in _LOADED:
            _LOADED[hf_key] = load_transformers_model(spec, n_ctx=n_ctx)
        return _LOADED[hf_key]
    from rewardspec.models.llama_cpp import LlamaCppModel
    from rewardspec.registry import resolve_gguf

    path, embedded = resolve_gguf(name_or_path)
    key = (str(path), n_ctx, n_threads)
    if key not in _LOADED:
        _LOADED[key] = LlamaCppModel(
            path, embedded.name if embedded else None, n_ctx=n_ctx, n_threads=n_threads
        )
    return _LOADED[key]
