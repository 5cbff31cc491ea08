"""δ per question before solving: the question head, its routes, RSD under a route (no models)."""

from __future__ import annotations

import numpy as np
import pytest

from fakes import QueueReward, ScriptedModel
from rewardspec.build import Models, build_solver, solver_settings
from rewardspec.errors import InvalidInputError
from rewardspec.eval.records import SampleRecord
from rewardspec.methods.routing import QuestionRouter, load_router
from rewardspec.codec import trace_to_json
from rewardspec.methods.base import DecodeConfig
from rewardspec.methods.rsd import RSD
from rewardspec.methods.single import SingleModel
from rewardspec.rewards import make_reward
from rewardspec.rewards.value_head import ValueHead
from rewardspec.train_reward import fit_head, question_features
from rewardspec.types import Step


class Reader(ScriptedModel):
    """A scripted draft whose hidden state at the end of the question says how hard it is."""

    def __init__(self, steps, params=10, name="probe-lm"):
        super().__init__(name, steps, params)
        self.reads: list[str] = []

    def hidden_state(self, messages, response_prefix):
        self.reads.append(response_prefix)
        question = messages[-1]["content"]
        vec = np.zeros(4)
        vec[0] = 1.0 if "easy" in question else -1.0
        return vec, 30  # the prompt's tokens, the last one read with embeddings


def question_head(labels="question", model="probe-lm", read="draft"):
    # P(draft solves it) = σ(4·x0 − 1): easy questions 0.95, hard ones 0.007.
    return ValueHead(model, read, np.zeros(4), np.ones(4), np.array([4.0, 0, 0, 0]), -1.0,
                     {"labels": labels, "metrics": {"right_rate": 0.3}})


def saved(tmp_path, **kwargs):
    path = tmp_path / "q.json"
    question_head(**kwargs).save(path)
    return path


DRAFT_STEPS = ["Draft one.\n\n", "Draft \\boxed{1}"]
TARGET_STEPS = ["Target one.\n\n", "Target \\boxed{2}"]


def rsd(router, rewards=(0.9, 0.9)):
    draft = Reader(DRAFT_STEPS)
    target = ScriptedModel("target", TARGET_STEPS, params=100)
    reward = QueueReward(list(rewards))
    router = router if router is None else QuestionRouter(question_head(), draft, **router)
    return RSD(draft, target, reward, delta=0.7, route=router, config=DecodeConfig(max_tokens=64)), draft, target, reward


def test_thresholds_choose_the_route():
    router = QuestionRouter(question_head(), object(), target_below=0.3, draft_above=0.8)
    assert [router.route(v) for v in (0.0, 0.29, 0.3, 0.79, 0.8, 1.0)] == \
        ["target", "target", "rsd", "rsd", "draft", "draft"]
    only_target = QuestionRouter(question_head(), object(), target_below=0.5)
    assert only_target.route(0.99) == "rsd"


@pytest.mark.parametrize("kwargs, message", [
    ({}, "give target_below, draft_above or both"),
    ({"target_below": 1.5}, "in \\[0, 1\\]"),
    ({"target_below": 0.6, "draft_above": 0.4}, "must not be below"),
])
def test_bad_thresholds_are_refused(kwargs, message):
    with pytest.raises(InvalidInputError, match=message):
        QuestionRouter(question_head(), object(), **kwargs)


def test_a_hard_question_goes_to_the_target_without_a_draft_step():
    solver, draft, target, reward = rsd({"target_below": 0.3})
    trace = solver.solve("A hard question")
    assert trace.route.route == "target" and trace.route.value == pytest.approx(0.0067, abs=1e-4)
    assert [s.source for s in trace.steps] == ["target", "target"] and trace.answer == "2"
    assert draft.calls == [] and reward.seen == [] and draft.reads == [""]
    # The read is the draft's prefill of the prompt and one token: charged to the draft.
    assert trace.usage["draft"].scored_tokens == 1 and trace.usage["draft"].prompt_tokens == 29
    assert trace.usage["draft"].flops == 2 * 10 and trace_to_json(trace)["route"]["route"] == "target"


def test_an_easy_question_goes_to_the_draft_without_reward_calls():
    solver, draft, target, reward = rsd({"target_below": 0.3, "draft_above": 0.9})
    trace = solver.solve("An easy question")
    assert trace.route.route == "draft" and trace.route.value > 0.9
    assert [s.source for s in trace.steps] == ["draft", "draft"] and trace.answer == "1"
    assert target.calls == [] and reward.seen == [] and trace.usage["reward"].calls == 0


def test_between_the_thresholds_rsd_decides_as_without_a_route():
    routed, _, _, reward = rsd({"target_below": 0.001, "draft_above": 0.99}, rewards=(0.9, 0.2))
    plain, _, _, _ = rsd(None, rewards=(0.9, 0.2))
    with_route, without = routed.solve("A hard question"), plain.solve("A hard question")
    assert with_route.route.route == "rsd" and without.route is None
    assert [s.source for s in with_route.steps] == [s.source for s in without.steps] == ["draft", "target"]
    assert "route" not in trace_to_json(without)
    # Baselines ignore a route: only RSD routes.
    draft = Reader(DRAFT_STEPS)
    assert SingleModel(draft, "draft").solve("A hard question").route is None and draft.reads == []


def test_a_route_needs_a_question_head_for_the_same_model(tmp_path):
    path = saved(tmp_path)
    router = load_router(f"head:{path}?target_below=0.25&draft_above=0.9", lambda spec: Reader(DRAFT_STEPS))
    assert (router.target_below, router.draft_above) == (0.25, 0.9)
    with pytest.raises(InvalidInputError, match="step head"):
        load_router(f"head:{saved(tmp_path, labels='outcome')}?target_below=0.2", lambda spec: Reader([]))
    with pytest.raises(InvalidInputError, match="trained on 'probe-lm'"):
        load_router(f"head:{saved(tmp_path)}?target_below=0.2", lambda spec: Reader([], name="other"))
    assert load_router(f"head:{saved(tmp_path)}?target_below=0.2&force=true",
                       lambda spec: Reader([], name="other")).target_below == 0.2
    with pytest.raises(InvalidInputError, match="reads the target"):
        load_router(f"head:{saved(tmp_path, read='target')}?target_below=0.2", lambda spec: Reader([]))

    def never(spec):
        raise AssertionError(f"a bad route spec must fail before a model loads ({spec})")

    for spec, message in ((f"head:{path}?target_below=lots", "target_below=.lots.: expected a finite number"),
                          (f"head:{path}?below=0.2", "unknown option"),
                          (f"head:{path}?target_below=0.2&model=other", "unknown option"),
                          (f"head:{path}", "give target_below"),
                          (f"head:{path}?target_below=1.5", r"\[0, 1\]"),
                          (f"head:{path}?target_below=0.5&draft_above=0.4", "must not be below"),
                          (f"{path}?target_below=0.2", "write head:"),
                          ("head:missing.json?target_below=0.2", "does not exist")):
        with pytest.raises(InvalidInputError, match=message):
            load_router(spec, never)
    with pytest.raises(InvalidInputError, match="question head"):
        make_reward(f"head:{path}", load=lambda spec: Reader([]))


def test_settings_build_an_rsd_that_routes_and_solvers_share_the_head(tmp_path):
    draft, target = Reader(DRAFT_STEPS), ScriptedModel("target", TARGET_STEPS, params=100)
    settings = solver_settings(reward="arithmetic", route=f"head:{saved(tmp_path)}?target_below=0.3")
    models = Models(settings, loader=lambda spec: {settings.draft: draft, settings.target: target}[spec])
    solver = build_solver("rsd", settings, DecodeConfig(max_tokens=64), models)
    assert solver.solve("A hard question").route.route == "target"
    assert not hasattr(build_solver("target", settings, DecodeConfig(max_tokens=64), models), "route")
    again = build_solver("rsd", settings, DecodeConfig(max_tokens=64), models)
    assert again.route is solver.route and again.route.model is draft  # read once, for every solver
    with pytest.raises(InvalidInputError, match="route"):
        solver_settings(route="")


def test_question_features_are_read_before_any_step_and_fit_reports_the_break_even():
    rng = np.random.default_rng(1)
    records = [SampleRecord(id=str(i), method="draft", question=("easy " if i % 3 == 0 else "hard ") + str(i),
                            correct=i % 3 == 0, steps=[Step("x\n\n", "draft", None, 1)], usage={}, wall_seconds=0.0)
               for i in range(30)]
    draft = Reader([])
    data = question_features(records, draft)
    assert draft.reads == [""] * 30 and data.features.shape == (30, 4)
    assert data.labels.tolist() == [int(r.correct) for r in records]
    assert sorted(set(data.groups.tolist())) == list(range(30))
    data.features[:, 1:] = rng.normal(size=(30, 3))
    head, metrics = fit_head(data, "probe-lm", "draft", labels="question")
    assert metrics["cv_question_auroc"] > 0.9 and metrics["right_rate"] == pytest.approx(10 / 30, abs=1e-3)
    assert head.provenance["labels"] == "question"


def test_the_server_and_eval_configs_take_a_route(tmp_path):
    from rewardspec.eval.runner import load_config, method_settings
    from rewardspec.serve.config import ConfigError, parse_config

    spec = f"head:{saved(tmp_path)}?target_below=0.3"
    assert parse_config({"route": spec}).route == spec
    with pytest.raises(ConfigError, match="route"):
        parse_config({"route": 3})
    cfg = load_config(None, {"dataset": "gsm8k", "route": spec, "output": str(tmp_path / "eval")})
    # A route changes RSD's samples, so a resumed run must have the same one; baselines ignore it.
    assert method_settings(cfg, "rsd")["route"] == spec and "route" not in method_settings(cfg, "draft")


def test_the_server_checks_the_route_at_start_and_meters_its_read(tmp_path):
    """A routed request's prompt is read by the route, not by the draft's first step."""
    from rewardspec.serve.config import parse_config
    from rewardspec.serve.scheduling import Engine

    def engine(route: str) -> Engine:
        draft, target = Reader(DRAFT_STEPS), ScriptedModel("target", TARGET_STEPS, params=100)
        config = parse_config({"draft": "probe-lm", "target": "target", "reward": "arithmetic", "route": route})
        return Engine(config, loader={"probe-lm": draft, "target": target}.__getitem__)

    with pytest.raises(InvalidInputError, match="step head"):
        engine(f"head:{saved(tmp_path, labels='outcome')}?target_below=0.3")
    served = engine(f"head:{saved(tmp_path)}?draft_above=0.5")
    trace = served.solver("rsd", 0.7, DecodeConfig(max_tokens=64)).solve("An easy question")
    assert trace.route.route == "draft" and trace.request_prompt_tokens == 30  # Reader's read, not a step's 5


def test_question_labels_read_the_drafts_own_solutions():
    from rewardspec.train_reward import train_reward

    for read, methods in (("target", ["draft"]), ("draft", ["target"]), ("draft", ["draft", "target"])):
        with pytest.raises(InvalidInputError, match="--read draft --methods draft"):
            train_reward(dataset="gsm8k", ids="700-701", limit=None, read=read, draft="d", target="t",
                         methods=methods, max_tokens=8, work="unused", output="unused.json", labels="question")


def test_an_eval_sample_records_the_route_and_reads_it_back(tmp_path):
    from rewardspec.eval.datasets import Example
    from rewardspec.eval.runner import make_record

    solver, _, _, _ = rsd({"target_below": 0.5})
    example = Example("7", "A hard question", "2", "gsm8k")
    record = make_record(example, solver.solve(example.question), "gsm8k")
    assert record.route.route == "target" and record.correct
    again = SampleRecord.from_dict(record.to_dict())
    assert again.route == record.route
    plain = make_record(example, rsd(None)[0].solve(example.question), "gsm8k")
    assert plain.route is None and "route" not in plain.to_dict()
