"""The llama.cpp build for this machine: a wheel-cache key and the CMake flags, on one line.

    python3 scripts/llama_build_flags.py [auto|portable]

``auto`` (the default) enables the x86 instruction sets this CPU reports (AVX2, FMA, F16C,
BMI2, AVX-VNNI, AVX-512 and its VBMI, VNNI and BF16 extensions) one by one, rather than
``-march=native``: AMX stays off, because llama.cpp's AMX kernels crashed in some VMs,
and a flag list is what keys the wheel cache, so machines with the same instruction sets
share a wheel. ``portable`` is the AVX2 build, the fallback, and ``auto`` is that build
wherever the CPU has nothing beyond AVX2 and BMI2 (which the AVX2 build enables by
default). On other architectures
``auto`` is llama.cpp's native build. The Makefile runs this with the system Python,
before any virtualenv exists, so it uses the standard library only.
"""

from __future__ import annotations

import platform
import sys
from pathlib import Path

COMMON = ["-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF",
          "-DGGML_AMX_INT8=OFF", "-DGGML_AMX_TILE=OFF", "-DGGML_AMX_BF16=OFF"]
PORTABLE = ["-DGGML_NATIVE=OFF", "-DGGML_AVX=ON", "-DGGML_AVX2=ON", "-DGGML_FMA=ON", "-DGGML_F16C=ON",
            "-DGGML_AVX512=OFF"]  # and BMI2, which ggml turns on by default with NATIVE off
# With NATIVE off, ggml turns SSE4.2, AVX, AVX2, BMI2, FMA and F16C on unless told otherwise.
GENERIC = ["-DGGML_NATIVE=OFF", "-DGGML_SSE42=OFF", "-DGGML_AVX=OFF", "-DGGML_AVX2=OFF", "-DGGML_BMI2=OFF",
           "-DGGML_FMA=OFF", "-DGGML_F16C=OFF", "-DGGML_AVX512=OFF"]
# (cpuinfo flags that must all be present, the GGML option they enable, the key's word)
X86_FEATURES = [
    (("avx2", "fma", "f16c"), ["GGML_AVX", "GGML_AVX2", "GGML_FMA", "GGML_F16C"], "avx2"),
    (("bmi2",), ["GGML_BMI2"], "bmi2"),
    (("avx_vnni",), ["GGML_AVX_VNNI"], "avxvnni"),
    # ggml compiles its AVX-512 path with -mavx512f -mavx512cd -mavx512vl -mavx512dq -mavx512bw
    (("avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw"), ["GGML_AVX512"], "avx512"),
    (("avx512vbmi",), ["GGML_AVX512_VBMI"], "vbmi"),
    (("avx512_vnni",), ["GGML_AVX512_VNNI"], "vnni"),
    (("avx512_bf16",), ["GGML_AVX512_BF16"], "bf16"),
]


def cpu_flags(cpuinfo: str) -> set[str]:
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()


def build(mode: str, machine: str, flags: set[str]) -> tuple[str, list[str]]:
    """(cache key, CMake flags) for ``mode`` on this machine."""
    if mode == "portable":
        return "avx2", PORTABLE + COMMON
    if machine not in ("x86_64", "amd64"):
        return f"native-{machine}", ["-DGGML_NATIVE=ON"] + COMMON
    args, words = ["-DGGML_NATIVE=OFF"], []
    for needed, options, word in X86_FEATURES:
        present = all(f in flags for f in needed)
        if word != "avx2" and "avx2" not in words:
            present = False  # the extensions only on top of the AVX2 base
        if word in ("vbmi", "vnni", "bf16") and "avx512" not in words:
            present = False  # and AVX-512's only on top of AVX-512
        args += [f"-D{option}={'ON' if present else 'OFF'}" for option in options]
        if present:
            words.append(word)
    if not words:
        return "generic", GENERIC + COMMON
    if set(words) == {"avx2", "bmi2"}:
        return build("portable", machine, flags)  # the same code as the fallback: share its wheel
    if "bmi2" not in words:
        words.insert(1, "nobmi2")  # unlike the portable build, which has BMI2: another wheel
    return "-".join(words), args + COMMON


def main() -> None:
    mode = sys.argv[1] if len(sys.argv) > 1 else "auto"
    if mode not in ("auto", "portable"):
        sys.exit(f"llama_build_flags: unknown build '{mode}'; use auto or portable")
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        cpuinfo = ""
    key, args = build(mode, platform.machine().lower(), cpu_flags(cpuinfo))
    print(key, *args)


if __name__ == "__main__":
    main()
