"""Language-model backends behind one protocol, loaded by spec.

A spec is ``BACKEND:SOURCE`` or a bare ``SOURCE`` (the llama.cpp backend).
Each backend is one row of :data:`BACKENDS`: its prefix and a loader that
takes the source, the context size and the thread count. A new backend is a
module with its ``LanguageModel`` plus one row here.
"""

from __future__ import annotations

from collections.abc import Callable

from rewardspec.models.base import ContinuationScore, LanguageModel, SamplingParams
from rewardspec.specs import split_prefix

__all__ = ["BACKENDS", "ContinuationScore", "LanguageModel", "SamplingParams", "load_model"]


def _llama_cpp(source: str, n_ctx: int, n_threads: int | None) -> tuple[tuple, Callable[[], LanguageModel]]:
    from rewardspec.models.llama_cpp import LlamaCppModel
    from rewardspec.registry import resolve_gguf

    path, embedded = resolve_gguf(source)
    return ((str(path), n_ctx, n_threads),
            lambda: LlamaCppModel(path, embedded.name if embedded else None, n_ctx=n_ctx, n_threads=n_threads))


def _transformers(source: str, n_ctx: int, n_threads: int | None) -> tuple[tuple, Callable[[], LanguageModel]]:
    from rewardspec.models.transformers_backend import load_transformers_model

    return ("transformers", source, n_ctx), lambda: load_transformers_model(source, n_ctx=n_ctx)


def _openai(source: str, n_ctx: int, n_threads: int | None) -> tuple[tuple, Callable[[], LanguageModel]]:
    from rewardspec.models.remote import load_remote

    return ("openai", source), lambda: load_remote(source)


#: prefix -> loader(source, n_ctx, n_threads) -> (cache key, how to build the model)
BACKENDS: dict[str, Callable[[str, int, int | None], tuple[tuple, Callable[[], LanguageModel]]]] = {
    "llama.cpp": _llama_cpp,
    "transformers": _transformers,
    "openai": _openai,
}
DEFAULT_BACKEND = "llama.cpp"

_LOADED: dict[tuple, LanguageModel] = {}


def split_spec(spec: str) -> tuple[str, str]:
    """``transformers:Qwen/Qwen2.5-Math-7B`` -> (backend, source); a bare source is llama.cpp's."""
    backend, source = split_prefix(spec, BACKENDS)
    return backend or DEFAULT_BACKEND, source


def load_model(name_or_path: str, *, n_ctx: int = 4096, n_threads: int | None = None) -> LanguageModel:
    """Load a model by spec: an embedded name or alias, a local GGUF file or a hub name
    (llama.cpp), ``transformers:SOURCE[?device=..&dtype=..]`` (a local directory, a
    .gguf file, an embedded model or a hub name; see models/transformers_backend.py), or
    ``openai:MODEL@URL[,URL…][?template=..&params=..]``, a model on OpenAI-compatible
    servers (see models/remote.py and docs/engines.md).

    Models are cached per process, so a draft that also serves as a reward
    model is loaded once and shares its KV cache.
    """
    backend, source = split_spec(name_or_path)
    key, build = BACKENDS[backend](source, n_ctx, n_threads)
    if key not in _LOADED:
        _LOADED[key] = build()
    return _LOADED[key]
