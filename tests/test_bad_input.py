"""Bad input a new user would try: one clear line and exit 2 (CLI), or a 4xx in OpenAI's format
(server); nothing already written is lost."""

from __future__ import annotations

import json

import httpx
import pytest

from fakes import scripted_server
from processes import assert_one_line_error, run_cli

GSM = [{"question": "What is 1 + 1?", "answer": "Add.\n#### 2", "idx": 0}]


@pytest.mark.parametrize("name,content,needles", [
    ("bad.yaml", "methods: [rsd\n  draft: : :\n", ["bad.yaml", "not valid YAML"]),
    ("bad.json", '{"dataset": "gsm8k",', ["bad.json", "not valid JSON"]),
    ("list.yaml", "- rsd\n- target\n", ["list.yaml", "expected a mapping", "list"]),
    ("latin1.yaml", "dataset: caf\xe9\n".encode("latin-1"), ["latin1.yaml:1", "not UTF-8"]),
    ("unknown.yaml", "dataset: gsm8k\nmethodz: [rsd]\n", ["methodz"]),
])
def test_eval_config_files_that_are_wrong(tmp_path, name, content, needles):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert_one_line_error(run_cli(["eval", "--config", str(path)]), *needles)


def test_eval_config_file_that_does_not_exist(tmp_path):
    assert_one_line_error(run_cli(["eval", "--config", str(tmp_path / "nope.yaml")]),
                          "cannot read the eval config", "nope.yaml")


def test_a_dataset_that_is_not_utf8_names_the_file_and_line(tmp_path):
    path = tmp_path / "mine.jsonl"
    path.write_bytes(json.dumps(GSM[0]).encode() + b"\n" + '{"question": "caf\xe9?", "answer": "1"}\n'.encode("latin-1"))
    out = tmp_path / "out"
    assert_one_line_error(run_cli(["eval", "--dataset", str(path), "--output", str(out)]),
                          "mine.jsonl:2", "not UTF-8")
    assert not (out / "samples-rsd.jsonl").exists()  # refused before any work


@pytest.mark.parametrize("line,needle", [("[1, 2]", "expected a JSON object"), ("{oops", "not valid JSON")])
def test_a_dataset_line_that_is_not_an_object(tmp_path, line, needle):
    path = tmp_path / "mine.jsonl"
    path.write_text(json.dumps(GSM[0]) + "\n" + line + "\n")
    assert_one_line_error(run_cli(["eval", "--dataset", str(path)]), "mine.jsonl:2", needle)


@pytest.mark.timeout(120)
def test_the_server_refuses_bodies_over_its_limit_with_413():
    with scripted_server(max_request_bytes=4096) as (_, base, _):
        url = f"{base}/v1/chat/completions"
        big = {"model": "rsd", "messages": [{"role": "user", "content": "x" * 10_000}]}
        declared = httpx.post(url, json=big, timeout=30)
        assert declared.status_code == 413
        error = declared.json()["error"]
        assert error["code"] == "request_too_large" and "4096" in error["message"]

        def chunks():  # no Content-Length: read up to the limit, then refused
            for _ in range(10):
                yield b"x" * 1000

        streamed = httpx.post(url, content=chunks(), headers={"content-type": "application/json"}, timeout=30)
        assert streamed.status_code == 413 and streamed.json()["error"]["code"] == "request_too_large"
        small = httpx.post(url, json={"model": "rsd", "messages": [{"role": "user", "content": "hi"}]},
                           timeout=30)
        assert small.status_code == 200, small.text

        def small_chunks():  # a small body without Content-Length is read and handled as usual
            yield json.dumps({"model": "rsd", "messages": [{"role": "user", "content": "hi"}]}).encode()

        replayed = httpx.post(url, content=small_chunks(), headers={"content-type": "application/json"},
                              timeout=30)
        assert replayed.status_code == 200, replayed.text


@pytest.mark.parametrize("args,needles", [
    (["solve", "q", "--max-tokens", "abc"], ["--max-tokens", "valid integer", "rewardspec solve --help"]),
    (["eval", "--prompt", "x"], ["No such option: --prompt"]),
    (["nosuch"], ["No such command 'nosuch'"]),
    (["eval", "--dataset", "gsm8k", "--limit", "-1"], ["limit", "greater than or equal to 1"]),
    (["eval", "--dataset", "gsm8k", "--limit", "0"], ["limit", "greater than or equal to 1"]),
    (["sweep", "--dataset", "gsm8k", "--deltas", ""], ["--deltas needs at least one value"]),
    (["sweep", "--dataset", "gsm8k", "--deltas", " , "], ["--deltas needs at least one value"]),
    (["solve", "q", "--escalate-after", "-1"], ["escalate_after", "greater than or equal to 0"]),
    (["eval", "--dataset", "gsm8k", "--escalate-after", "-2"], ["escalate_after", "greater than or equal to 0"]),
    (["solve", "q", "--method", "target", "--route", "head:x?target_below=0.3"], ["--route", "--method target"]),
    (["solve", "q", "--route", "head:no-such-head.json?target_below=0.3"], ["no-such-head.json"]),
])
def test_bad_options_are_one_line(args, needles):
    assert_one_line_error(run_cli(args), *needles)


def test_an_output_directory_that_cannot_be_written(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(GSM[0]) + "\n")
    assert_one_line_error(run_cli(["eval", "--dataset", str(path), "--output", str(blocker / "out")]),
                          "cannot write the output directory")


@pytest.mark.timeout(120)
def test_every_refused_request_is_one_log_line_with_its_status_reason_and_id(caplog):
    import logging

    caplog.set_level(logging.WARNING, logger="rewardspec.serve")
    with scripted_server(max_request_bytes=4096) as (_, base, _):
        url = f"{base}/v1/chat/completions"
        chat = [{"role": "user", "content": "hi"}]
        tools = httpx.post(url, json={"model": "rsd", "messages": chat, "tools": [{"type": "function"}]},
                           headers={"X-Request-Id": "client-42"}, timeout=30)
        invalid = httpx.post(url, json={"model": "rsd", "messages": chat, "top_k": -7}, timeout=30)
        big = httpx.post(url, json={"model": "rsd", "messages": [{"role": "user", "content": "x" * 9000}]},
                         timeout=30)
    assert (tools.status_code, invalid.status_code, big.status_code) == (400, 422, 413)
    assert tools.headers["x-request-id"] == "client-42" and invalid.headers["x-request-id"].startswith("req-")
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("refused")]
    assert len(lines) == 3, lines
    assert "refused 400 POST /v1/chat/completions (request client-42) [param tools, code unsupported_parameter]" \
        in lines[0] and "tool and function calling" in lines[0]
    assert lines[1].startswith("refused 422") and "top_k" in lines[1] and invalid.headers["x-request-id"] in lines[1]
    assert lines[2].startswith("refused 413") and "4096" in lines[2] and big.headers["x-request-id"] in lines[2]
