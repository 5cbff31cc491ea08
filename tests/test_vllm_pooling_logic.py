"""The vLLM step-PRM client without a server: reply shapes, older servers' routes, the
Math-Shepherd request (scripted replies through httpx.MockTransport; the live server is in
tests/test_vllm_live.py)."""

from __future__ import annotations

import json
import math

import httpx
import pytest
from prm_fixtures import checkpoint

from rewardspec.endpoints import RemoteEngineError
from rewardspec.errors import InvalidInputError
from rewardspec.remote_spec import RemoteSpec
from rewardspec.rewards import make_reward
from rewardspec.rewards.base import Candidate
from rewardspec.rewards.prm.vllm_pooling import (
    VllmORM,
    VllmStepPRM,
    share_out,
    step_rewards,
)


def test_rows_of_pairs_and_the_flat_shape_give_p_good():
    assert step_rewards([[0.8, 0.2], [0.1, 0.9]], 2) == [0.2, 0.9]
    assert step_rewards([0.8, 0.2, 0.1, 0.9], 2) == [0.2, 0.9]


def test_a_row_of_logits_goes_through_softmax():
    (p,) = step_rewards([[0.0, 2.0]], 1)
    assert p == pytest.approx(math.exp(2) / (1 + math.exp(2)))
    (low,) = step_rewards([[900.0, -900.0]], 1)  # no overflow
    assert 0 <= low < 1e-300 or low == 0.0


@pytest.mark.parametrize("data", [[0.3], [[0.1, 0.2, 0.7]], "x", []])
def test_replies_of_another_shape_are_refused_with_what_to_check(data):
    with pytest.raises(RemoteEngineError, match="pooling"):
        step_rewards(data, 1)


def _scripted(prm: VllmStepPRM, answer):
    seen = []

    def handler(request):
        seen.append((request.url.path, json.loads(request.content)))
        return answer(request.url.path, seen[-1][1])

    for endpoint in prm.pool.endpoints:
        endpoint.client = httpx.Client(base_url=endpoint.url, transport=httpx.MockTransport(handler))
    prm.pool.sleep = lambda s: None
    return seen


def _shepherd(**options) -> VllmStepPRM:
    directory = checkpoint("math-shepherd")[0]
    return VllmStepPRM(RemoteSpec.parse(f"shep@http://one/v1?template={directory}"), "math-shepherd", **options)


def test_math_shepherd_sends_the_model_cards_token_ids_and_reads_the_last_tag():
    prm = _shepherd()
    tokenizer = prm.tokenizer

    def answer(path, body):
        tags = body["input"].count(prm.step_tag_id)
        return httpx.Response(200, json={"data": [{"data": [[0.5, 0.5]] * (tags - 1) + [[0.3, 0.7]]}],
                                         "usage": {"prompt_tokens": len(body["input"])}})

    seen = _scripted(prm, answer)
    score = prm.score("Q?", ["Step one.\n\n"], "Step two.")
    path, body = seen[0]
    assert path == "/pooling" and body["task"] == "token_classify" and body["model"] == "shep"
    assert body["input"] == tokenizer.encode("Q? Step one. ки\n\nStep two. ки")
    assert body["input"][0] == tokenizer.bos_token_id
    assert score.value == 0.7
    assert score.scored_tokens + score.prompt_tokens == len(body["input"])
    assert prm.classifier_tokens == tokenizer.convert_ids_to_tokens(tokenizer.encode("- +")[1:])


def test_an_older_server_is_asked_again_without_task_and_then_on_embeddings():
    prm = _shepherd()

    def answer(path, body):
        if path == "/v1/embeddings":
            return httpx.Response(200, json={"data": [{"embedding": [0.9, 0.1]}], "usage": {}})
        if "task" in body:
            return httpx.Response(400, json={"error": {"message": "unknown field: task"}})
        return httpx.Response(404, json={"detail": "Not Found"})  # no /pooling at all

    seen = _scripted(prm, answer)
    assert prm.score("Q?", [], "One step.").value == pytest.approx(0.1)
    assert [(p, b.get("task")) for p, b in seen] == [("/pooling", "token_classify"), ("/pooling", None),
                                                    ("/v1/embeddings", None)]
    prm.score("Q?", [], "Again.")
    assert seen[-1][0] == "/v1/embeddings" and len(seen) == 4  # the route that worked is kept


def test_a_request_the_server_refuses_for_itself_does_not_change_the_route():
    prm = _shepherd()

    def answer(path, body):
        if len(body["input"]) > 12:
            return httpx.Response(400, json={"error": {"message": "prompt is longer than max_model_len"}})
        return httpx.Response(200, json={"data": [{"data": [[0.4, 0.6]]}]})

    seen = _scripted(prm, answer)
    with pytest.raises(Exception, match="max_model_len"):
        prm.score("A long question that runs on?", [], "And a long step after it.")
    assert prm.score("Q?", [], "Ok.").value == 0.6
    assert {p for p, _ in seen} == {"/pooling"} and all(b.get("task") == "token_classify" for _, b in seen)


def test_too_few_step_scores_say_what_to_check():
    prm = _shepherd()
    _scripted(prm, lambda path, body: httpx.Response(200, json={"data": [{"data": [[0.4, 0.6]]}]}))
    with pytest.raises(RemoteEngineError, match="step_tag_id"):
        prm.score("Q?", ["A.\n\n"], "B.")


def test_spec_options_are_checked():
    with pytest.raises(InvalidInputError, match="format must be one of"):
        make_reward("vllm-prm:m@http://127.0.0.1:9/v1?format=shepherd")
    with pytest.raises(InvalidInputError, match="format=math-shepherd"):
        make_reward("vllm-prm:m@http://127.0.0.1:9/v1?good=%2B")
    with pytest.raises(InvalidInputError, match="unknown option"):
        make_reward("vllm-prm:m@http://127.0.0.1:9/v1?format=math-shepherd&colour=red")


def test_several_candidates_go_in_one_request_and_score_as_one_request_each():
    prm = _shepherd()
    candidates = [Candidate(["Step one.\n\n"], "Step two."), Candidate(["Step one.\n\n"], "Other two."),
                  Candidate([], "Only step.")]

    def answer(path, body):
        inputs = body["input"] if isinstance(body["input"][0], list) else [body["input"]]
        rows = [{"index": i, "data": [[0.5, 0.5]] * (ids.count(prm.step_tag_id) - 1) + [[0.1 * i, 1 - 0.1 * i]]}
                for i, ids in enumerate(inputs)]
        return httpx.Response(200, json={"data": rows[::-1],  # in any order: read by index
                                         "usage": {"prompt_tokens": sum(len(ids) for ids in inputs)}})

    seen = _scripted(prm, answer)
    batched = prm.score_many("Q?", candidates)
    assert len(seen) == 1 and len(seen[0][1]["input"]) == 3
    singles = [prm.score("Q?", c.previous_steps, c.step) for c in candidates]
    assert [s.value for s in batched] == pytest.approx([1.0, 0.9, 0.8])
    assert [(s.scored_tokens, s.prompt_tokens) for s in batched] == [(s.scored_tokens, s.prompt_tokens)
                                                                    for s in singles]


def test_a_batchs_cache_hits_are_shared_out_and_add_up():
    assert share_out(10, [4, 6]) == [4, 6]  # nothing cached: each its own context
    assert share_out(5, [4, 6]) == [2, 3]
    assert share_out(7, [1, 1, 1]) == [3, 2, 2] and sum(share_out(7, [0, 0, 0])) == 7
    assert share_out(-3, [4, 6]) == [0, 0] and share_out(9, [4]) == [9]


def test_an_orm_scores_several_candidates_in_one_classify_request():
    directory = checkpoint("orm")[0]
    orm = VllmORM(RemoteSpec.parse(f"rm@http://one/v1?template={directory}"), center=0.0, scale=1.0)
    candidates = [Candidate([], "Step one."), Candidate(["Step one. "], "Step two.")]

    def answer(path, body):
        inputs = body["input"] if isinstance(body["input"][0], list) else [body["input"]]
        assert path == "/classify"
        return httpx.Response(200, json={"data": [{"index": i, "probs": [0.25 * (i + 1)]}
                                                  for i in range(len(inputs))]})

    seen = _scripted(orm, answer)
    batched = orm.score_many("Q?", candidates)
    singles = [orm.score("Q?", c.previous_steps, c.step) for c in candidates]
    assert len(seen) == 3 and seen[0][1]["input"] == [seen[1][1]["input"], seen[2][1]["input"]]
    assert [s.value for s in batched] == pytest.approx([0.25, 0.5])
    assert [(s.scored_tokens, s.prompt_tokens) for s in batched] == [(s.scored_tokens, s.prompt_tokens)
                                                                    for s in singles]
