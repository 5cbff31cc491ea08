"""Tiny real-architecture checkpoints, built once per test process in a temp dir.

The builders live in :mod:`rewardspec.analysis.tiny_checkpoints` (benchmarks/gpu_check.py uses
them too); this module keeps them importable under their old names and caches what they build.
"""

from __future__ import annotations

from pathlib import Path

from rewardspec.analysis.tiny_checkpoints import (  # noqa: F401
    CORPUS,
    CHATML_TEMPLATE,
    LLAMA3_TEMPLATE,
    BUILDERS,
    bytelevel_tokenizer,
    metaspace_tokenizer,
    qwen_tokenizer,
    llama3_tokenizer,
    tiny_config,
    save_state,
    build_causal_lm,
    build_qwen_prm,
    build_skywork_prm,
    build_math_shepherd,
    build_rlhflow,
    build_orm,
)

# -- shared, built once per test process ----------------------------------------

QUESTION = "Janet has 16 eggs. She eats 3 for breakfast. How many eggs are left?"
STEPS = [
    "Step 1: Janet has 16 eggs.\n\n",
    "Step 2: She eats 3, so 16 - 3 = 13 eggs are left.\nThat is the rest.\n\n",
    "The answer is \\boxed{13}.",
]


_ROOT: list[Path] = []
_BUILT: dict[str, tuple] = {}


def checkpoint(kind: str) -> tuple:
    """(directory, *what the builder returned), built once per process in a temp dir."""
    import atexit
    import shutil
    import tempfile

    if not _ROOT:
        root = Path(tempfile.mkdtemp(prefix="rewardspec-prm-"))
        atexit.register(shutil.rmtree, root, True)
        _ROOT.append(root)
    if kind not in _BUILT:
        directory = _ROOT[0] / kind
        built = BUILDERS[kind](directory)
        _BUILT[kind] = (directory, *(built if isinstance(built, tuple) else (built,)))
    return _BUILT[kind]


def reward_spec(kind: str, family: str | None = None, **options) -> str:
    directory = checkpoint(kind)[0]
    opts = {"device": "cpu", "dtype": "float32", **options}
    query = "&".join(f"{k}={v}" for k, v in opts.items())
    return f"{family or kind}:{directory}?{query}"


def auto_tokenizer(kind: str):
    """The tokenizer as the authors' code gets it: AutoTokenizer.from_pretrained(dir)."""
    from transformers import AutoTokenizer

    key = f"tokenizer:{kind}"
    if key not in _BUILT:
        _BUILT[key] = (AutoTokenizer.from_pretrained(checkpoint(kind)[0]),)
    return _BUILT[key][0]
