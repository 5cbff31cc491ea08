"""Where llama.cpp's own ``llama-server`` binary is, for ``rewardspec launch`` and the live tests.

It is not a Python package, so nothing installs it beside us: users put it on PATH (a llama.cpp
release, a package manager's build) or name it in ``$REWARDSPEC_LLAMA_SERVER``; ``make
llama-server`` builds it from the llama.cpp that our llama-cpp-python vendors, into the cache
beside the wheel (scripts/build_llama_server.py), and that copy is found last.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from rewardspec.errors import InvalidInputError

ENV = "REWARDSPEC_LLAMA_SERVER"
CACHE = Path.home() / ".cache" / "rewardspec"


def find_llama_server() -> Path | None:
    """``$REWARDSPEC_LLAMA_SERVER``, else ``llama-server`` on PATH, else the one ``make llama-server``
    built for the installed llama-cpp-python (any built one if none matches). None if there is none.
    A variable naming nothing is an error, not a silent fall-back to another server."""
    named = os.environ.get(ENV)
    if named:
        path = Path(named).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise InvalidInputError(f"${ENV} names {named}, which is not an executable file; "
                                    "build one with `make llama-server` or unset it")
        return path
    on_path = shutil.which("llama-server")
    if on_path:
        return Path(on_path)
    built = sorted(CACHE.glob("llama-server-*/llama-server"), key=lambda p: p.stat().st_mtime)  # newest last
    if not built:
        return None
    version = _llama_cpp_python_version()
    matching = [p for p in built if version and p.parent.name.startswith(f"llama-server-{version}-")]
    return (matching or built)[-1]


def _llama_cpp_python_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("llama-cpp-python")
    except PackageNotFoundError:
        return None
