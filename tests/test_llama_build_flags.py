"""The llama.cpp build flags the Makefile asks for, per CPU (pure logic, no build)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "llama_build_flags.py"
spec = importlib.util.spec_from_file_location("llama_build_flags", SCRIPT)
flags_module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(flags_module)
build = flags_module.build

AVX2 = {"avx", "avx2", "fma", "f16c", "bmi2", "sse4_2"}
SAPPHIRE = AVX2 | {"avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw", "avx512vbmi", "avx512_vnni",
                   "avx512_bf16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16"}


def test_an_avx2_machine_shares_the_portable_wheel():
    assert build("auto", "x86_64", AVX2) == build("portable", "x86_64", AVX2)
    key, args = build("portable", "x86_64", SAPPHIRE)
    assert key == "avx2" and "-DGGML_AVX512=OFF" in args and "-DGGML_NATIVE=OFF" in args


def test_avx512_and_vnni_are_enabled_where_present_and_amx_never():
    key, args = build("auto", "x86_64", SAPPHIRE)
    assert key == "avx2-bmi2-avxvnni-avx512-vbmi-vnni-bf16"
    for option in ("GGML_AVX512", "GGML_AVX512_VNNI", "GGML_AVX512_BF16", "GGML_AVX_VNNI"):
        assert f"-D{option}=ON" in args
    assert {"-DGGML_AMX_INT8=OFF", "-DGGML_AMX_TILE=OFF", "-DGGML_AMX_BF16=OFF"} <= set(args)
    assert not any("AMX" in a and a.endswith("=ON") for a in args) and "-DGGML_NATIVE=OFF" in args


def test_avx512_needs_every_subset_ggml_compiles_with():
    key, args = build("auto", "x86_64", AVX2 | {"avx512f", "avx512_vnni"})  # no BW/DQ/VL: no AVX-512
    assert key == "avx2" and "-DGGML_AVX512=ON" not in args


def test_other_machines():
    assert build("auto", "aarch64", set())[0] == "native-aarch64"
    key, args = build("auto", "x86_64", {"sse4_2"})
    assert key == "generic"
    for option in ("AVX", "AVX2", "BMI2", "FMA", "F16C", "SSE42"):  # ggml's defaults would turn them on
        assert f"-DGGML_{option}=OFF" in args
    key, args = build("auto", "x86_64", AVX2 - {"bmi2"})  # not the portable build, which has BMI2
    assert key == "avx2-nobmi2" and "-DGGML_BMI2=OFF" in args


def test_the_command_line_prints_key_then_flags_and_refuses_an_unknown_build():
    out = subprocess.run([sys.executable, str(SCRIPT), "portable"], capture_output=True, text=True, check=True)
    key, *args = out.stdout.split()
    assert key == "avx2" and all(a.startswith("-D") for a in args)
    bad = subprocess.run([sys.executable, str(SCRIPT), "fastest"], capture_output=True, text=True)
    assert bad.returncode != 0 and "unknown build" in bad.stderr
