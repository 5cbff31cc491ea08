"""OpenAI response shapes built from traces, tested without an app or a model."""

from __future__ import annotations

import json

from fakes import QueueReward, ScriptedModel

from rewardspec.methods.base import DecodeConfig
from rewardspec.methods.rsd import RSD
from rewardspec.serve import responses as fmt
from rewardspec.serve.scheduling import ChoiceResult


def _results() -> list[ChoiceResult]:
    out = []
    for index, rewards in ((1, [0.9, 0.2, 0.9]), (0, [0.9, 0.9, 0.9])):
        draft = ScriptedModel("d", ["d1\n\n", "d2\n\n", "\\boxed{5}"], params=100)
        target = ScriptedModel("t", ["t1\n\n", "t2\n\n", "\\boxed{6}"], params=1000)
        trace = RSD(draft=draft, target=target, reward=QueueReward(rewards),
                    config=DecodeConfig(seed=index)).solve("What is 2 + 3?")
        out.append(ChoiceResult(index, 0, index, trace, prompt_tokens=12))
    return out


def _reply(chat: bool) -> fmt.Reply:
    return fmt.Reply("chatcmpl-1", 1700000000, "rsd", "rsd", 0.7, "binary",
                     {"draft": "d", "target": "t", "reward": "queue"}, chat)


def test_full_chat_response_orders_choices_and_accounts_for_every_model():
    body = fmt.full_response(_reply(chat=True), _results())
    assert body["object"] == "chat.completion" and body["system_fingerprint"] == fmt.FINGERPRINT
    assert [c["index"] for c in body["choices"]] == [0, 1]
    first, second = body["choices"]
    assert first["message"] == {"role": "assistant", "content": "d1\n\nd2\n\n\\boxed{5}"}
    assert second["message"]["content"] == "d1\n\nt2\n\n\\boxed{5}"  # step 2 rewritten by the target
    assert first["finish_reason"] == "stop" and first["rsd"]["answer"] == "5"
    assert body["usage"]["prompt_tokens"] == 12  # one prompt, counted once
    assert body["usage"]["completion_tokens"] == sum(c["rsd"]["usage"]["draft"]["generated_tokens"]
                                                     - c["rsd"]["usage"]["draft"]["discarded_tokens"]
                                                     + c["rsd"]["usage"]["target"]["generated_tokens"]
                                                     for c in body["choices"])
    steps = body["rsd"]["steps"]
    rejected = [s for s in steps if s["rejected_draft"]]
    assert len(rejected) == 1 and rejected[0]["choice"] == 1 and rejected[0]["rejected_draft"]["reward"] == 0.2
    assert body["rsd"]["models"] == {"draft": "d", "target": "t", "reward": "queue"}
    # The stats the loop counted, per choice and added over the request.
    assert second["rsd"]["stats"]["rejected"] == 1 and first["rsd"]["stats"]["rejected"] == 0
    assert body["rsd"]["stats"]["accepted"] == 5 and body["rsd"]["stats"]["drafted"] == 6
    # Usage added over the choices, role by role.
    assert body["rsd"]["usage"]["draft"]["generated_tokens"] == sum(
        c["rsd"]["usage"]["draft"]["generated_tokens"] for c in body["choices"])
    # A step on the wire has the layout samples files give it.
    assert set(steps[0]) == {"choice", "step", "text", "source", "reward", "generated_tokens", "rejected_draft"}


def test_completions_use_text_and_baselines_name_only_their_model():
    reply = fmt.Reply("cmpl-1", 1, "rsd-target", "target", None, "binary",
                      {"draft": "d", "target": "t", "reward": "queue"}, chat=False)
    body = fmt.full_response(reply, _results()[:1])
    assert body["object"] == "text_completion" and "text" in body["choices"][0]
    assert body["rsd"]["models"] == {"draft": None, "target": "t", "reward": None}
    assert body["rsd"]["delta"] is None and body["rsd"]["rule"] is None


def test_stream_chunks():
    results = _results()
    chunks = fmt.StreamChunks(_reply(chat=True), include_usage=True)

    def data(event: str) -> dict:
        assert event.startswith("data: ") and event.endswith("\n\n")
        return json.loads(event[len("data: "):])

    opening = data(chunks.opening(0))
    assert opening["choices"][0]["delta"] == {"role": "assistant", "content": ""} and opening["usage"] is None
    step = data(chunks.step(0, 0, results[1].trace.steps[0]))
    assert step["choices"][0]["delta"] == {"content": "d1\n\n"} and step["choices"][0]["rsd"]["source"] == "draft"
    assert step["choices"][0]["rsd"]["generated_tokens"] == 10 and "text" not in step["choices"][0]["rsd"]
    end = data(chunks.finished(results[1]))
    assert end["choices"][0]["finish_reason"] == "stop" and end["choices"][0]["delta"] == {}
    usage = data(chunks.usage(results))
    assert usage["choices"] == [] and usage["usage"]["prompt_tokens"] == 12
    assert chunks.DONE == "data: [DONE]\n\n"
    plain = fmt.StreamChunks(_reply(chat=False), include_usage=False)
    assert plain.opening(0) is None and plain.usage(results) is None
    assert data(plain.step(0, 0, results[0].trace.steps[0]))["choices"][0]["text"] == "d1\n\n"
