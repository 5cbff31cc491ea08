"""What every transformers-based model shares: sources, devices, checkpoints, prefix caches.

The causal LM backend (:mod:`rewardspec.models.transformers_backend`) and the
process reward models (:mod:`rewardspec.rewards.prm`) both load from a local
directory, a ``.gguf`` file, an embedded model or a hub name (with a clear
error when the hub cannot be reached), pick a device and dtype, read head
weights from a checkpoint and keep a per-request prefix cache.

torch and transformers are imported on first use only (:func:`require_hf`):
``import rewardspec`` stays light.
"""

from __future__ import annotations

import json
import os
import socket
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence
from urllib.parse import urlparse

from rewardspec.errors import (
    HubUnavailableError,
    InvalidInputError,
    MissingPackageError,
    UnknownModelError,
)
from rewardspec.registry import parse_hub_name

torch: Any = None
transformers: Any = None

INSTALL_HINT = "pip install 'rewardspec[transformers]' (torch==2.13.0, transformers, accelerate)"


def require_hf() -> tuple[Any, Any]:
    """Import torch and transformers, or say how to install them."""
    global torch, transformers
    if torch is None or transformers is None:
        try:
            import torch as _torch
            import transformers as _transformers
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise MissingPackageError(
                f"the transformers backend needs torch and transformers; install them with: "
                f"{INSTALL_HINT}"
            ) from exc
        torch, transformers = _torch, _transformers
    return torch, transformers


# -- where the weights are --------------------------------------------------

@dataclass(frozen=True)
class Source:
    """A model on local disk: a directory, or a GGUF file inside ``path``."""

    path: str
    gguf_file: str | None = None
    hub_repo: str | None = None
    """The hub name it was fetched as, if any (for messages)."""
    alias: str | None = None
    """The embedded model's name, when it is one."""

    @property
    def label(self) -> str:
        if self.hub_repo:
            return self.hub_repo
        return str(Path(self.path) / self.gguf_file) if self.gguf_file else self.path

    @property
    def display_name(self) -> str:
        if self.alias:
            return self.alias
        if self.hub_repo:
            return self.hub_repo.split("/")[-1]
        if self.gguf_file:
            return Path(self.gguf_file).stem
        return Path(self.path).name


def _hub_error(repo: str, reason: str, option_hint: str) -> HubUnavailableError:
    return HubUnavailableError(
        f"cannot fetch '{repo}' from the Hugging Face hub ({reason}): there is no network "
        f"here, or the hub is not reachable. Download the model on a machine that has one "
        f"(huggingface-cli download {repo} --local-dir DIR), copy DIR here and pass the "
        f"local directory instead, e.g. {option_hint.replace('SOURCE', '/path/to/DIR')} "
        f"(if '{repo}' was meant as a local directory: it does not exist)"
    )


def hub_reachable(timeout: float = 3.0) -> tuple[bool, str]:
    """A quick check that the hub's host answers, so no download waits out its retries."""
    try:
        from huggingface_hub import constants
    except ImportError:  # pragma: no cover - huggingface_hub comes with transformers
        return False, "huggingface-hub is not installed"
    if constants.HF_HUB_OFFLINE:
        return False, "HF_HUB_OFFLINE is set"
    url = urlparse(constants.ENDPOINT)
    host, port = url.hostname or "huggingface.co", url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True, ""
    except OSError as exc:
        return False, f"{host} unreachable: {exc.strerror or type(exc).__name__}"


def _fetch_from_hub(repo: str, gguf_file: str | None, option_hint: str) -> Source:
    try:
        from huggingface_hub import HfApi, hf_hub_download, snapshot_download
        from huggingface_hub.errors import RepositoryNotFoundError
    except ImportError as exc:  # pragma: no cover
        raise MissingPackageError(
            f"'{repo}' looks like a hub name, which needs huggingface-hub: pip install "
            "huggingface-hub (or pass a local directory)"
        ) from exc
    # A complete copy already in the local hub cache needs no network.
    try:
        if gguf_file:
            path = Path(hf_hub_download(repo, gguf_file, local_files_only=True))
            return Source(str(path.parent), path.name, repo)
        cached = Path(snapshot_download(repo, local_files_only=True))
        if (cached / "config.json").is_file():
            return Source(str(cached), None, repo)
    except Exception:  # noqa: BLE001 - not cached: go on to the network
        pass
    ok, reason = hub_reachable()
    if not ok:
        raise _hub_error(repo, reason, option_hint)
    try:
        if gguf_file:
            path = Path(hf_hub_download(repo, gguf_file))
            return Source(str(path.parent), path.name, repo)
        files = HfApi().list_repo_files(repo)
        has_safetensors = any(f.endswith(".safetensors") for f in files)
        patterns = ["*.json", "*.txt", "*.model", "*.py", "*.jinja", "*.tiktoken", "*.safetensors"]
        if not has_safetensors:
            patterns.append("*.bin")
        return Source(snapshot_download(repo, allow_patterns=patterns), None, repo)
    except RepositoryNotFoundError as exc:
        raise UnknownModelError(
            f"the Hugging Face hub has no model '{repo}' (or it is gated: log in with "
            "huggingface-cli login); check the name, or pass a local directory"
        ) from exc
    except Exception as exc:  # noqa: BLE001 - the hub client raises many kinds
        raise _hub_error(repo, type(exc).__name__, option_hint) from exc


def resolve_source(name_or_path: str, option_hint: str = "transformers:SOURCE") -> Source:
    """A local directory, a local ``.gguf`` file, an embedded model name or a hub name.

    ``option_hint`` is the spec shown in error messages, with ``SOURCE`` where
    the local path goes.
    """
    name = name_or_path.strip()
    if not name:
        raise InvalidInputError(f"no model given; expected {option_hint}")
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise InvalidInputError(
                f"directory '{path}' has no config.json: pass the folder that holds the model's "
                "config.json, weights (*.safetensors) and tokenizer files"
            )
        return Source(str(path))
    if path.is_file():
        if path.suffix != ".gguf":
            raise InvalidInputError(
                f"'{path}' is a file; pass the model's directory (config.json, weights, "
                "tokenizer) or a .gguf file"
            )
        return Source(str(path.parent), path.name)
    from rewardspec.registry import lookup, materialize

    embedded = lookup(name)
    if embedded is not None:
        gguf = materialize(embedded)
        return Source(str(gguf.parent), gguf.name, alias=embedded.name)
    hub = parse_hub_name(name)
    if hub and hub[1] is not None and (":" in hub[1] or not hub[1].endswith(".gguf")):
        hub = None  # transformers reads a hub repository, or one GGUF file in it
    looks_local = name.startswith(("/", ".", "~")) or os.sep + os.sep in name
    if hub and not looks_local:
        return _fetch_from_hub(hub[0], hub[1], option_hint)
    raise UnknownModelError(
        f"model '{name}' is not a local directory, not a .gguf file, not an embedded model "
        f"and not a hub name (owner/model); expected {option_hint}"
    )


def checkpoint_tensors(source: Source, wanted: Callable[[str], bool]) -> dict[str, Any]:
    """Tensors of the checkpoint in ``source`` whose names satisfy ``wanted``.

    Reads sharded or single safetensors, falling back to PyTorch ``.bin``
    files; with an index, only the shards that hold wanted tensors are opened.
    """
    root = Path(source.path)
    for index_name in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        index = root / index_name
        if index.is_file():
            weight_map: dict[str, str] = json.loads(index.read_text())["weight_map"]
            shards = sorted({shard for key, shard in weight_map.items() if wanted(key)})
            return _read_shards([root / s for s in shards], wanted)
    files = sorted(root.glob("*.safetensors")) or sorted(root.glob("*.bin"))
    return _read_shards(files, wanted)


def _read_shards(paths: list[Path], wanted: Callable[[str], bool]) -> dict[str, Any]:
    torch, _ = require_hf()
    out: dict[str, Any] = {}
    for path in paths:
        if path.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="pt", device="cpu") as fh:
                for key in fh.keys():
                    if wanted(key):
                        out[key] = fh.get_tensor(key)
        else:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
            out.update({k: v for k, v in state.items() if wanted(k)})
    return out


# -- device, dtype, loading -------------------------------------------------

_DTYPES = {
    "float32": "float32", "fp32": "float32", "float": "float32",
    "bfloat16": "bfloat16", "bf16": "bfloat16",
    "float16": "float16", "fp16": "float16", "half": "float16",
}


def pick_device(device: str | None = None):
    """``auto`` (or None) means CUDA when there is one, else CPU."""
    torch, _ = require_hf()
    name = (device or "auto").strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError):
        raise InvalidInputError(f"unknown device '{device}'; use cpu, cuda, cuda:N or auto") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InvalidInputError(
            f"device '{device}' asked for, but this torch sees no CUDA GPU; use device=cpu"
        )
    return dev


def pick_dtype(dtype: str | None, device) -> Any:
    """``auto``: bfloat16 on a GPU that supports it, float16 on older GPUs, float32 on CPU."""
    torch, _ = require_hf()
    name = (dtype or "auto").strip().lower()
    if name == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    if name not in _DTYPES:
        raise InvalidInputError(
            f"unknown dtype '{dtype}'; use one of auto, float32, bfloat16, float16"
        )
    return getattr(torch, _DTYPES[name])


def load_tokenizer(source: Source, trust_remote_code: bool = False):
    _, transformers = require_hf()
    kwargs: dict[str, Any] = {"trust_remote_code": trust_remote_code}
    if source.gguf_file:
        kwargs["gguf_file"] = source.gguf_file
    try:
        return transformers.AutoTokenizer.from_pretrained(source.path, **kwargs)
    except (OSError, ValueError) as exc:
        raise InvalidInputError(
            f"cannot load a tokenizer from '{source.label}': {exc}"
        ) from exc


def load_pretrained(auto_class, source: Source, *, device, dtype, trust_remote_code: bool = False,
                    device_map: str | None = None, **kwargs):
    """``auto_class.from_pretrained`` on local files, moved to ``device``, in eval mode.

    With ``device_map`` (e.g. "auto", to spread a 72B model over several
    GPUs; needs accelerate) the weights are placed by accelerate instead.
    """
    _, transformers = require_hf()
    kwargs = {"dtype": dtype, "trust_remote_code": trust_remote_code, **kwargs}
    if device_map:
        kwargs["device_map"] = device_map
    if source.gguf_file:
        kwargs["gguf_file"] = source.gguf_file
    hf_logging = transformers.utils.logging
    verbosity = hf_logging.get_verbosity()
    # Unused tensors (a head we read ourselves, an lm_head) are expected; missing ones are
    # checked below, so transformers' load report would only be noise.
    hf_logging.set_verbosity_error()
    try:
        model, info = auto_class.from_pretrained(source.path, output_loading_info=True, **kwargs)
    except (OSError, ValueError, KeyError) as exc:
        raise InvalidInputError(
            f"cannot load '{source.label}' as {auto_class.__name__}: {exc}"
        ) from exc
    finally:
        hf_logging.set_verbosity(verbosity)
    missing = sorted((info or {}).get("missing_keys") or [])
    if missing:
        shown = ", ".join(missing[:4]) + (f" and {len(missing) - 4} more" if len(missing) > 4 else "")
        raise InvalidInputError(
            f"'{source.label}' lacks weights that {type(model).__name__} needs ({shown}): they "
            "would be left random. Is this the right checkpoint for this model family?"
        )
    return (model if device_map else model.to(device)).eval()


def input_device(model):
    """Where a model's input ids go (its embeddings' device, under a device map too)."""
    return model.get_input_embeddings().weight.device


def count_params(*modules) -> int:
    seen: set[int] = set()
    total = 0
    for module in modules:
        for p in module.parameters():
            if id(p) not in seen:
                seen.add(id(p))
                total += p.numel()
    return total


# -- KV cache kept per request ------------------------------------------------

def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


@dataclass
class CacheSlot:
    ids: list[int] = field(default_factory=list)
    """Tokens whose keys and values ``past`` holds, in order."""
    past: Any = None


class PrefixCache:
    """KV caches of the last few requests, each reused up to the longest common prefix.

    ``prepare(key, ids)`` returns the slot for ``key`` (a request's identity:
    its chat, or its question) cropped to the part of ``ids`` it already
    holds, and the number of tokens that need no new computation. At least
    the last token is always left to run, so its output is fresh.
    """

    def __init__(self, slots: int = 8) -> None:
        if slots < 1:
            raise InvalidInputError(f"cache_slots must be at least 1, got {slots}")
        self.slots = slots
        self._slots: OrderedDict[Any, CacheSlot] = OrderedDict()

    def prepare(self, key, ids: Sequence[int]) -> tuple[CacheSlot, int]:
        return self.prepare_many(key, [ids])

    def prepare_many(self, key, sequences: Sequence[Sequence[int]]) -> tuple[CacheSlot, int]:
        """:meth:`prepare` for several inputs run together (a batch): the slot is cropped to what
        it shares with every one of them, and each keeps at least its last token to run."""
        if not sequences or not all(sequences):
            raise InvalidInputError("nothing to run: the model's input is empty")
        slot = self._slots.pop(key, None)
        if slot is None:
            slot = CacheSlot()
            while len(self._slots) >= self.slots:
                self._slots.popitem(last=False)
        self._slots[key] = slot
        common = min(common_prefix(slot.ids, ids) for ids in sequences)
        common = min(common, min(len(ids) for ids in sequences) - 1)
        if common < len(slot.ids):
            common = self._crop(slot, common)
        return slot, common

    def held(self, key) -> CacheSlot | None:
        """The slot kept for ``key``, if any, left where it is in the LRU order."""
        return self._slots.get(key)

    @staticmethod
    def _crop(slot: CacheSlot, length: int) -> int:
        if slot.past is not None and length > 0:
            try:
                if getattr(slot.past, "is_croppable", True):
                    # A negative argument removes that many tokens (transformers 4.x and 5.x).
                    slot.past.crop(length - len(slot.ids))
                    slot.ids = slot.ids[:length]
                    return length
            except (AttributeError, ValueError, NotImplementedError, RuntimeError):
                pass
        slot.past, slot.ids = None, []
        return 0

    def clear(self) -> None:
        self._slots.clear()
