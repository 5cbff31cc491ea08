"""Build llama.cpp's own ``llama-server`` from the llama.cpp that llama-cpp-python vendors, once.

    python3 scripts/build_llama_server.py VERSION CACHE_DIR [CMAKE_FLAG ...]

The server most local users run (LM Studio, Ollama and most desktop tools are built on
llama.cpp) is the C++ ``llama-server``, not llama-cpp-python's Python server. Building it from
the exact llama.cpp that our llama-cpp-python VERSION vendors (its sdist's ``vendor/llama.cpp``),
with the same CMake flags as the wheel (``scripts/llama_build_flags.py``), means the two run the
same kernels. The sdist comes through pip (its configured index); the binary is linked
statically and kept in CACHE_DIR beside the wheel, so a later ``make test`` reuses it.
Prints the binary's path. Standard library only: the Makefile runs it before any virtualenv
has what it needs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "llama-cpp-python"


def fetch(version: str, into: Path) -> Path:
    """The sdist, through pip (and so through the index and certificates pip is configured with)."""
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
                    f"{PACKAGE}=={version}", "-d", str(into)], check=True)
    found = next(into.glob("llama_cpp_python-*.tar.gz"), None)
    if found is None:
        raise SystemExit(f"pip downloaded no source distribution of {PACKAGE} {version}")
    return found


def vendored_llama_cpp(sdist: Path, into: Path) -> Path:
    with tarfile.open(sdist) as tar:
        members = [m for m in tar.getmembers() if "/vendor/llama.cpp/" in m.name]
        tar.extractall(into, members=members, filter="data")
    found = next(into.glob("*/vendor/llama.cpp"), None)
    if found is None:
        raise SystemExit(f"{sdist.name} has no vendor/llama.cpp")
    return found


def find_cmake() -> str:
    """The system's cmake, else the one beside this interpreter, else PyPI's ``cmake`` installed
    there (as building the llama-cpp-python wheel gets it), so a machine without cmake still builds."""
    beside = Path(sys.executable).parent / "cmake"
    found = shutil.which("cmake") or (str(beside) if beside.is_file() else None)
    if found:
        return found
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "cmake"], check=True)
    if not beside.is_file():
        raise SystemExit("building llama-server needs cmake: apt-get install cmake, or pip install cmake")
    return str(beside)


def build(source: Path, flags: list[str], work: Path) -> Path:
    cmake = find_cmake()
    build_dir = work / "build"
    subprocess.run([cmake, "-S", str(source), "-B", str(build_dir), "-DCMAKE_BUILD_TYPE=Release",
                    "-DBUILD_SHARED_LIBS=OFF", "-DLLAMA_CURL=OFF", "-DLLAMA_BUILD_SERVER=ON",
                    "-DLLAMA_BUILD_TOOLS=ON", "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF",
                    *[f for f in flags if not f.startswith("-DLLAMA_BUILD_")]],
                   check=True, stdout=subprocess.DEVNULL)
    jobs = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 2
    subprocess.run([cmake, "--build", str(build_dir), "--target", "llama-server", "-j", str(jobs)],
                   check=True, stdout=subprocess.DEVNULL)
    binary = build_dir / "bin" / "llama-server"
    if not binary.is_file():
        raise SystemExit(f"the build made no {binary}")
    return binary


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    version, cache = argv[0], Path(argv[1])
    target = cache / "llama-server"
    if target.is_file():
        print(target)
        return 0
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="llama-server-") as tmp:
        work = Path(tmp)
        source = vendored_llama_cpp(fetch(version, work), work)
        binary = build(source, argv[2:], work)
        partial = target.with_suffix(".partial")
        shutil.copy2(binary, partial)
        partial.replace(target)  # whole or absent: an interrupted build leaves nothing half-copied
    print(target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
