"""Where a result came from: code version and commit, machine, date, and the models' weights.

A figure without these cannot be compared with another or reproduced, so every summary
and every results file carries them. Nothing here may fail a run: what cannot be found
(a commit outside a git checkout, a model behind a server) is recorded as unknown.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

#: The instruction sets that decide how fast llama.cpp runs on a CPU (and which build it got).
ISA_FLAGS = ("avx", "avx2", "fma", "f16c", "bmi2", "avx_vnni", "avx512f", "avx512bw", "avx512vl",
             "avx512_vnni", "avx512_vbmi", "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16", "sve", "neon")
#: Local weight files larger than this are named by size, not hashed: hashing 70 GB at the end of
#: an eval would cost minutes for a field nobody has asked for yet.
HASH_LIMIT_BYTES = 8 << 30

_hashes: dict[tuple[str, int, int], str] = {}


def commit() -> dict[str, Any]:
    """The git commit of the checkout this package runs from, and whether it had local changes."""
    root = Path(__file__).resolve().parents[2]
    try:
        sha = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": sha or None, "dirty": bool(dirty) if sha else None}


def machine() -> dict[str, Any]:
    """CPU model, its speed-deciding instruction sets, cores, OS and Python."""
    cpu, flags, cpu_found = platform.processor() or None, set(), False
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and not cpu_found:
                cpu, cpu_found = value.strip(), True
            elif key.strip() in ("flags", "Features") and not flags:
                flags = set(value.split())
    except OSError:
        pass
    return {"cpu": cpu, "isa": [f for f in ISA_FLAGS if f in flags], "cores": os.cpu_count(),
            "system": f"{platform.system()} {platform.release()}", "python": platform.python_version()}


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def weights(spec: str) -> dict[str, Any]:
    """What a model spec loads: an embedded model's pinned sha256, a local file's own, or unknown
    (a hub name or a server, whose weights this process never sees)."""
    from rewardspec.registry import lookup, sha256_of

    embedded = lookup(spec)
    if embedded is not None:
        return {"spec": spec, "name": embedded.name, "sha256": embedded.sha256}
    path = Path(spec.split("?")[0]).expanduser()
    if path.is_file():
        st = path.stat()
        key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
        if st.st_size > HASH_LIMIT_BYTES:
            return {"spec": spec, "sha256": None, "bytes": st.st_size}
        if key not in _hashes:
            _hashes[key] = sha256_of(path)
        return {"spec": spec, "sha256": _hashes[key], "bytes": st.st_size}
    return {"spec": spec, "sha256": None}


def provenance(models: dict[str, str] | None = None, command: str | None = None) -> dict[str, Any]:
    """Everything a result needs to be read later: version, commit, machine, date, models, command."""
    from rewardspec import __version__

    out: dict[str, Any] = {"rewardspec": __version__, **commit(), "date": now(), "machine": machine()}
    if command is not None:
        out["command"] = command
    if models:
        out["models"] = {role: weights(spec) for role, spec in models.items()}
    return out
