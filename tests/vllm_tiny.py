"""What the live vLLM tests share: the tiny checkpoints, the variables configs/vllm-cpu-tiny
names, and starting that config's servers. ``make test`` makes vLLM's own virtualenv and sets
``REWARDSPEC_VLLM_PYTHON``; without it the tests that use this are skipped."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import pytest

from prm_fixtures import build_causal_lm, build_math_shepherd, build_orm, build_qwen_prm, qwen_tokenizer
from processes import free_port

VLLM_PYTHON = os.environ.get("REWARDSPEC_VLLM_PYTHON", "")
MARKS = [
    pytest.mark.vllm,
    pytest.mark.skipif(not Path(VLLM_PYTHON).is_file(), reason="no vLLM virtualenv (make test makes one)"),
]
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "gsm8k.jsonl"
# vLLM's CPU attention wants a head size it has kernels for: 128 wide, 2 heads of 64.
SIZE = dict(hidden_size=128, intermediate_size=256, num_attention_heads=2, num_key_value_heads=1)


CONFIG = Path(__file__).resolve().parents[1] / "configs" / "vllm-cpu-tiny"


def checkpoints(root: Path) -> None:
    build_causal_lm(root / "lm", "qwen2", qwen_tokenizer(), **SIZE)
    build_qwen_prm(root / "prm", head_std=0.05, **SIZE)  # rewards near 0.5, not 0 or 1
    build_orm(root / "orm", score_std=0.05, **SIZE)
    _, tokenizer = build_math_shepherd(root / "shepherd", initializer_range=0.05, **SIZE)
    # configs/vllm-cpu-tiny/rewards.yaml names the tag's id and the two tokens' strings.
    assert tokenizer.encode("ки")[-1] == 73
    assert tokenizer.convert_ids_to_tokens(tokenizer.encode("+ -")[1:]) == ["▁+", "▁-"]


def environment(root: Path, monkeypatch, questions: int) -> dict[str, str]:
    """The variables configs/vllm-cpu-tiny/*.yaml name: paths, free ports, the data."""
    dataset = root / "gsm8k.jsonl"
    if DATA.exists():
        with open(DATA, encoding="utf-8") as src:
            dataset.write_text("".join(next(src) for _ in range(questions)), encoding="utf-8")
    values = {"RS_TINY_LM": str(root / "lm"), "RS_TINY_PRM": str(root / "prm"), "RS_TINY_ORM": str(root / "orm"),
              "RS_TINY_SHEPHERD": str(root / "shepherd"), "RS_TINY_LOGS": str(root / "logs"),
              "RS_TINY_LM_PORT": str(free_port()), "RS_TINY_PRM_PORT": str(free_port()),
              "RS_TINY_ORM_PORT": str(free_port()), "RS_TINY_SHEPHERD_PORT": str(free_port()),
              "RS_TINY_DATA": str(dataset), "RS_TINY_OUT": str(root / "run")}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("REWARDSPEC_VLLM_PYTHON", VLLM_PYTHON)
    return values


@contextmanager
def serving(root: Path, config: str, questions: int = 8):
    """The servers of one ready config file, through the launcher's own machinery."""
    from rewardspec.launch import Servers, load_launch_config

    with pytest.MonkeyPatch.context() as monkeypatch:
        env = environment(root, monkeypatch, questions)
        with Servers(load_launch_config(str(CONFIG / config))):
            yield {name: f"http://127.0.0.1:{env[f'RS_TINY_{name.upper()}_PORT']}/v1"
                   for name in ("lm", "prm", "orm", "shepherd")} | {"root": root, "data": root / "gsm8k.jsonl"}


def servers_fixture(config: str):
    """A module-scoped fixture: the servers of one ready config file over fresh tiny checkpoints,
    as :func:`serving` yields them. Assign it to the name the tests ask for (``vllm = ...``)."""

    @pytest.fixture(scope="module")
    def servers(tmp_path_factory):
        root = tmp_path_factory.mktemp(f"vllm-{Path(config).stem}")
        checkpoints(root)
        with serving(root, config) as running:
            yield running

    return servers
