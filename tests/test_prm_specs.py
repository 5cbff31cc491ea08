"""Reward specs for the transformers PRMs: parsing, errors, lazy imports."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rewardspec.errors import HubUnavailableError, InvalidInputError, UnknownModelError
from rewardspec.rewards import make_reward
from rewardspec.rewards.prm import FAMILIES, family_of, is_prm_spec, parse_prm_spec


def test_parse_specs():
    assert parse_prm_spec("orm:/m/rm?center=1.5&scale=2") == (
        "orm", "/m/rm", {"center": 1.5, "scale": 2.0})
    assert parse_prm_spec("qwen-prm") == ("qwen-prm", "Qwen/Qwen2.5-Math-PRM-7B", {})
    assert parse_prm_spec("rlhflow?device=cpu")[1:] == (
        "RLHFlow/Llama3.1-8B-PRM-Deepseek-Data", {"device": "cpu"})
    family, source, opts = parse_prm_spec(
        "skywork-prm:./sky?step_token=%0A&cache_slots=3&trust_remote_code=true&dtype=bfloat16")
    assert (family, source) == ("skywork-prm", "./sky")
    assert opts == {"step_token": "\n", "cache_slots": 3, "trust_remote_code": True,
                    "dtype": "bfloat16"}
    assert parse_prm_spec("math-shepherd:d?good=%2B&bad=-")[2] == {"good": "+", "bad": "-"}
    assert family_of("likelihood:qwen-prm") is None and not is_prm_spec("arithmetic")
    assert set(FAMILIES) == {"qwen-prm", "skywork-prm", "math-shepherd", "rlhflow", "orm"}


@pytest.mark.parametrize("spec,match", [
    ("orm:d?temperature=2", "unknown option temperature"),
    ("orm:d?scale=0", "scale"),
    ("orm:d?scale=-1", "scale"),
    ("qwen-prm:d?cache_slots=0", "cache_slots"),
    ("qwen-prm:d?trust_remote_code=maybe", "trust_remote_code"),
    ("skywork-prm:d?center=1", "unknown option center"),
])
def test_bad_options_fail_before_loading(spec, match):
    with pytest.raises(InvalidInputError, match=match):
        parse_prm_spec(spec)


def test_unknown_reward_lists_the_prm_specs():
    with pytest.raises(InvalidInputError, match="qwen-prm:SOURCE"):
        make_reward("prm-of-my-dreams:x")


def test_missing_local_paths(tmp_path):
    pytest.importorskip("transformers")
    with pytest.raises(UnknownModelError, match="not a local directory"):
        make_reward(f"qwen-prm:{tmp_path / 'nope'}")
    with pytest.raises(InvalidInputError, match="config.json"):
        make_reward(f"orm:{tmp_path}")


def test_hub_without_network_says_so_and_points_to_a_local_path(monkeypatch):
    pytest.importorskip("transformers")
    from rewardspec.models import hf_common

    monkeypatch.setattr(hf_common, "hub_reachable",
                        lambda timeout=3.0: (False, "huggingface.co unreachable"))
    with pytest.raises(HubUnavailableError) as info:
        make_reward("qwen-prm:Qwen/Qwen2.5-Math-PRM-7B?device=cpu")
    message = str(info.value)
    assert "no network" in message and "Qwen/Qwen2.5-Math-PRM-7B" in message
    assert "qwen-prm:/path/to/DIR" in message  # the local-directory spec to use instead
    from rewardspec.models import load_model

    with pytest.raises(HubUnavailableError, match="transformers:/path/to/DIR"):
        load_model("transformers:Qwen/Qwen2.5-0.5B-Instruct")


def test_import_rewardspec_does_not_import_torch():
    code = (
        "import sys, rewardspec, rewardspec.rewards, rewardspec.models, rewardspec.rewards.prm\n"
        "import rewardspec.models.transformers_backend, rewardspec.models.hf_common\n"
        "from rewardspec.rewards.prm import parse_prm_spec\n"
        "parse_prm_spec('orm:x?scale=2')\n"
        "bad = [m for m in ('torch', 'transformers') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
