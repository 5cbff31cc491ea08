"""The RSD loop's logic with scripted models: decisions, termination, accounting."""

import pytest
from fakes import QueueReward, ScriptedModel

from rewardspec.errors import InvalidInputError
from rewardspec.codec import trace_to_json
from rewardspec.methods.base import DecodeConfig, step_seed
from rewardspec.methods.rsd import RSD
from rewardspec.methods.single import SingleModel

DRAFT = ["d1\n\n", "d2\n\n", "d3 \\boxed{5}"]
TARGET = ["t1\n\n", "t2\n\n", "t3 \\boxed{6}"]


def make(rewards, delta=0.7, config=None, method="rsd", rule="binary"):
    draft = ScriptedModel("draft", DRAFT, params=100)
    target = ScriptedModel("target", TARGET, params=1000)
    reward = QueueReward(rewards)
    if method in ("target", "draft"):
        model = target if method == "target" else draft
        return SingleModel(model, method, config or DecodeConfig()), draft, target, reward
    return RSD(draft=draft, target=target, reward=reward, delta=delta, rule=rule,
               method=method, config=config or DecodeConfig()), draft, target, reward


def test_accept_and_reject_follow_threshold():
    solver, draft, target, reward = make([0.9, 0.2, 0.8])
    trace = solver.solve("q")
    assert [s.source for s in trace.steps] == ["draft", "target", "draft"]
    assert [s.text for s in trace.steps] == ["d1\n\n", "t2\n\n", "d3 \\boxed{5}"]
    assert trace.steps[1].rejected_draft.text == "d2\n\n"
    assert trace.steps[1].rejected_draft.reward == 0.2
    assert trace.steps[0].reward == 0.9 and trace.steps[1].reward is None
    # The target rewrites from the same prefix the draft saw.
    assert target.calls[0][0] == draft.calls[1][0] == "d1\n\n"
    assert trace.answer == "5" and trace.finish_reason == "eos"


def test_accounting_adds_up():
    solver, *_ = make([0.9, 0.2, 0.8])
    trace = solver.solve("q")
    u = trace.usage
    kept = sum(s.generated_tokens for s in trace.steps if s.source == "draft")
    dropped = sum(s.rejected_draft.generated_tokens for s in trace.steps if s.rejected_draft)
    assert u["draft"].generated_tokens == kept + dropped == 31
    assert u["draft"].discarded_tokens == dropped == 10
    assert u["target"].generated_tokens == 10
    assert u["reward"].scored_tokens == 12 and u["reward"].calls == 3
    assert u["draft"].flops == 2 * 100 * 31
    assert u["target"].flops == 2 * 1000 * 10
    assert u["reward"].flops == 2 * 7 * 12
    assert trace.flops == sum(x.flops for x in u.values())
    assert trace.flops_with_prompt == pytest.approx(
        sum(2 * x.params * (x.generated_tokens + x.scored_tokens + x.prompt_tokens) for x in u.values()))
    d = trace_to_json(trace)
    assert d["usage"]["draft"]["discarded_tokens"] == 10
    assert d["flops"] == trace.flops and d["text"] == trace.text


def test_baselines_use_one_model_and_no_reward():
    solver, draft, target, reward = make([], method="target")
    trace = solver.solve("q")
    assert [s.source for s in trace.steps] == ["target"] * 3 and not draft.calls and not reward.seen
    assert trace.usage["reward"].calls == 0 and trace.delta is None
    solver, draft, target, reward = make([], method="draft")
    trace = solver.solve("q")
    assert [s.source for s in trace.steps] == ["draft"] * 3 and not target.calls


def test_max_tokens_is_per_request_and_counts_kept_steps():
    solver, draft, *_ = make([0.9] * 10, config=DecodeConfig(max_tokens=25))
    trace = solver.solve("q")
    assert trace.finish_reason == "length"
    assert trace.response_tokens == 25
    assert draft.calls[-1][1].max_tokens == 5
    # A second request starts with its full budget: nothing carries over.
    first_calls = len(draft.calls)
    trace2 = solver.solve("q2")
    assert draft.calls[first_calls][1].max_tokens == 25
    assert trace2.response_tokens == 25 and trace2.finish_reason == "length"


def test_max_steps_terminates():
    solver, *_ = make([0.9] * 10, config=DecodeConfig(max_steps=2))
    trace = solver.solve("q")
    assert len(trace.steps) == 2 and trace.finish_reason == "max_steps"


def test_empty_final_draft_step_is_not_scored():
    draft = ScriptedModel("draft", ["a\n\n", ""], params=1)
    reward = QueueReward([0.9])
    trace = RSD(draft=draft, target=ScriptedModel("t", ["x"], 2), reward=reward).solve("q")
    assert reward.seen == ["a\n\n"] and trace.steps[-1].text == ""


def test_seeds_are_per_step_and_role():
    assert step_seed(1, 0, "draft") != step_seed(1, 0, "target")
    assert step_seed(1, 0, "draft") != step_seed(1, 1, "draft")
    solver, draft, target, _ = make([0.1, 0.1, 0.1], config=DecodeConfig(seed=3))
    solver.solve("q")
    assert [c[1].seed for c in draft.calls] == [step_seed(3, i, "draft") for i in range(3)]


@pytest.mark.parametrize("kwargs,match", [
    ({"delta": 1.5}, "delta"),
    ({"method": "beam"}, "RSD runs method 'rsd'"),
    ({"config": DecodeConfig(max_tokens=5), "delta": -1}, "delta"),
])
def test_bad_settings(kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        make([], **kwargs)


def test_missing_model_and_empty_question():
    with pytest.raises(InvalidInputError, match="needs a"):
        RSD(draft=ScriptedModel("d", ["x"], 1), method="rsd")
    with pytest.warns(DeprecationWarning, match="SingleModel"):  # 0.1.0's way to ask for a baseline
        baseline = RSD(target=ScriptedModel("t", TARGET, 1), method="target")
    assert isinstance(baseline, SingleModel) and baseline.solve("q").text == "".join(TARGET)
    solver, *_ = make([])
    with pytest.raises(InvalidInputError, match="empty"):
        solver.solve("   ")
    with pytest.raises(InvalidInputError):
        DecodeConfig(max_tokens=0)


def test_chat_messages_are_passed_through_and_question_is_last_user_turn():
    solver, draft, target, reward = make([0.9, 0.9, 0.9])
    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2+3?"}]
    trace = solver.solve(chat)
    assert trace.question == "What is 2+3?"
    # Both models get the chat exactly as given (no system prompt added), and the reward the question.
    assert draft.messages and all(m == chat for m in draft.messages + target.messages)
    assert reward.questions == ["What is 2+3?"] * 3
    with pytest.raises(InvalidInputError):
        solver.solve([{"role": "system", "content": "no user turn"}])


def test_baseline_usage_lists_only_the_model_it_ran():
    solver, *_ = make([], method="target")  # draft and reward are attached but unused
    trace = solver.solve("q")
    assert trace.usage["draft"].params == 0 and trace.usage["reward"].params == 0
    assert trace.usage["target"].params == 1000


# -- loops and the question's token ceiling -----------------------------------------------


class LoopingDraft(ScriptedModel):
    """A draft whose steps at the given indices fell into a loop (cut as "degenerate")."""

    def __init__(self, looping_at: set[int], **kw):
        super().__init__("draft", DRAFT, params=100, **kw)
        self.looping_at = looping_at

    def generate_step(self, messages, response_prefix, sampling):
        gen = super().generate_step(messages, response_prefix, sampling)
        if response_prefix.count("\n\n") in self.looping_at:
            gen.text, gen.finish_reason = "2 + 2 + 2 + 2 + 2 + 2", "degenerate"
        return gen


def test_a_looping_draft_step_is_rejected_unscored_and_the_target_writes_it():
    draft = LoopingDraft({1})
    target = ScriptedModel("target", TARGET, params=1000)
    reward = QueueReward([0.9, 0.9])
    trace = RSD(draft=draft, target=target, reward=reward).solve("q")
    assert [s.source for s in trace.steps] == ["draft", "target", "draft"]
    rejected = trace.steps[1].rejected_draft
    assert rejected.degenerate and rejected.reward is None and rejected.text.startswith("2 + 2")
    assert reward.seen == ["d1\n\n", "d3 \\boxed{5}"]  # the loop cost no reward call
    assert trace.usage["draft"].discarded_tokens == 10
    assert trace.finish_reason == "eos" and trace.answer == "5"
    assert trace_to_json(trace)["steps"][1]["rejected_draft"]["degenerate"] is True


def test_a_loop_ends_a_single_model_answer_with_the_reason():
    trace = SingleModel(LoopingDraft({1}), "draft").solve("q")
    assert len(trace.steps) == 2 and trace.finish_reason == "degenerate"


def test_the_ceiling_on_all_tokens_ends_the_answer_as_budget():
    # Every draft step is rejected: each round costs 10 draft + 10 target tokens.
    solver, draft, target, _ = make([0.0] * 20, config=DecodeConfig(max_tokens=40, max_total_tokens=45))
    trace = solver.solve("q")
    assert trace.finish_reason == "budget"
    spent = trace.usage["draft"].generated_tokens + trace.usage["target"].generated_tokens
    assert spent == 45  # 20 + 20, then the last draft call only got the 5 tokens left
    assert draft.calls[-1][1].max_tokens == 5
    assert trace.response_tokens == 20  # well under max_tokens: the ceiling, not max_tokens, ended it
    # The stats tell what the steps tell, as a file from before stats were recorded is read.
    from rewardspec.codec import legacy_stats

    legacy = legacy_stats("rsd", trace.steps, trace.usage)
    assert (trace.stats.accepted, trace.stats.rejected, trace.stats.degenerate) == \
        (legacy.accepted, legacy.rejected, legacy.degenerate) == (0, 2, 0)


def test_a_trace_reads_back_from_its_json():
    from rewardspec.codec import trace_from_json

    solver, *_ = make([0.9, 0.2, 0.8])
    trace = solver.solve("q")
    again = trace_from_json(trace_to_json(trace))
    assert again.steps == trace.steps and again.usage == trace.usage and again.stats == trace.stats
    assert (again.answer, again.finish_reason, again.delta) == (trace.answer, trace.finish_reason, 0.7)


def test_the_default_ceiling_is_a_multiple_of_max_tokens():
    from rewardspec.methods.base import TOTAL_BUDGET_MULTIPLE

    assert DecodeConfig(max_tokens=300).total_budget == TOTAL_BUDGET_MULTIPLE * 300
    assert DecodeConfig(max_tokens=300, max_total_tokens=500).total_budget == 500
    # Draft-only and target-only can never reach it: their tokens are their response's.
    solver, *_ = make([], method="target", config=DecodeConfig(max_tokens=25))
    assert solver.solve("q").finish_reason == "length"


@pytest.mark.parametrize("kwargs,match", [
    ({"max_tokens": 100, "max_total_tokens": 50}, "max_total_tokens"),
    ({"repetition_limit": -1}, "repetition_limit"),
    ({"stop": tuple(f"s{i}" for i in range(17))}, "at most 16 stop"),
    ({"stop": ("x" * 257,)}, "at most 256 characters"),
])
def test_bad_budgets_and_stops_are_refused(kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        DecodeConfig(**kwargs)


def test_delta_has_one_source_of_truth():
    from rewardspec.methods.acceptance import BinaryRule

    draft, target = ScriptedModel("d", DRAFT, 1), ScriptedModel("t", TARGET, 2)
    solver = RSD(draft=draft, target=target, reward=QueueReward([0.5] * 3), rule=BinaryRule(0.3))
    assert solver.delta == 0.3 and solver.solve("q").delta == 0.3  # decided and recorded at 0.3
    assert RSD(draft=draft, target=target, reward=QueueReward([]), delta=0.4).rule.delta == 0.4
    with pytest.raises(InvalidInputError, match="decides at 0.3"):
        RSD(draft=draft, target=target, reward=QueueReward([]), delta=0.7, rule=BinaryRule(0.3))


def test_a_draft_looping_on_blank_lines_is_rejected_too():
    class BlankLoop(ScriptedModel):
        def generate_step(self, messages, response_prefix, sampling):
            gen = super().generate_step(messages, response_prefix, sampling)
            if not response_prefix:
                gen.text, gen.finish_reason = "\n" * 64, "degenerate"  # no visible text: no separator
            return gen

    draft, target = BlankLoop("draft", DRAFT, params=100), ScriptedModel("target", TARGET, params=1000)
    trace = RSD(draft=draft, target=target, reward=QueueReward([0.9, 0.9])).solve("q")
    assert trace.steps[0].source == "target" and trace.steps[0].rejected_draft.degenerate
    assert trace.finish_reason == "eos"


class FakeClock:
    """Time that moves only when a model call says so: time accounting tested without sleeping."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class TimedModel(ScriptedModel):
    """A scripted model whose calls take a known time on ``clock``, part of it prefill."""

    def __init__(self, *args, clock: FakeClock, seconds: float, **kwargs):
        super().__init__(*args, **kwargs)
        self.clock, self.seconds = clock, seconds

    def generate_step(self, messages, response_prefix, sampling):
        self.clock.now += self.seconds
        gen = super().generate_step(messages, response_prefix, sampling)
        gen.prefill_seconds = self.seconds / 4
        return gen


class TimedReward(QueueReward):
    def __init__(self, values, clock: FakeClock):
        super().__init__(values)
        self.clock = clock

    def score(self, question, previous_steps, step, generation=None):
        self.clock.now += 0.03
        return super().score(question, previous_steps, step, generation)


def test_each_role_records_its_time_and_the_paper_convention_counts_reward_calls():
    clock = FakeClock()
    draft = TimedModel("draft", DRAFT, params=100, clock=clock, seconds=0.02)
    target = TimedModel("target", TARGET, params=1000, clock=clock, seconds=0.05)
    reward = TimedReward([0.9, 0.2, 0.8], clock)
    trace = RSD(draft=draft, target=target, reward=reward, delta=0.7, clock=clock).solve("q")
    u = trace.usage
    assert u["draft"].seconds == pytest.approx(3 * 0.02)
    assert u["target"].seconds == pytest.approx(0.05)
    assert u["reward"].seconds == pytest.approx(3 * 0.03)
    assert u["draft"].prefill_seconds == pytest.approx(3 * 0.005)
    assert u["target"].prefill_seconds == pytest.approx(0.0125)
    assert trace.wall_seconds == pytest.approx(sum(x.seconds for x in u.values()))
    d = trace_to_json(trace)
    assert d["usage"]["reward"]["seconds"] == pytest.approx(u["reward"].seconds, abs=1e-4)
    # The paper's convention: generated draft and target tokens, one token per reward call.
    assert trace.flops_paper == 2 * 100 * 31 + 2 * 1000 * 10 + 2 * 7 * 3 == d["flops_paper"]


def test_stats_are_counted_as_the_loop_decides():
    solver, *_ = make([0.9, 0.2, 0.8])
    stats = solver.solve("q").stats
    assert (stats.drafted, stats.accepted, stats.rejected, stats.degenerate) == (3, 2, 1, 0)
    assert stats.judged == 3 and stats.rewritten == 1
    looping = RSD(draft=LoopingDraft({1}), target=ScriptedModel("t", TARGET, 1000),
                  reward=QueueReward([0.9, 0.9])).solve("q").stats
    assert (looping.accepted, looping.rejected, looping.degenerate) == (2, 0, 1)
    single = SingleModel(ScriptedModel("t", TARGET, 1000), "target").solve("q").stats
    assert single.judged == 0 and single.drafted == 0


def test_the_first_calls_prompt_is_the_requests_prompt():
    solver, draft, *_ = make([0.9, 0.9, 0.9])
    trace = solver.solve("q")
    assert trace.request_prompt_tokens == 5  # ScriptedModel: 5 + len(prefix) // 4, prefix empty


def test_escalation_hands_the_rest_to_the_target_after_k_rejections():
    DRAFT5 = [f"d{i}\n\n" for i in range(1, 5)] + ["d5 \\boxed{5}"]
    TARGET5 = [f"t{i}\n\n" for i in range(1, 5)] + ["t5 \\boxed{6}"]
    for k, rewards, sources in [
        (1, [0.9, 0.2], ["draft", "target", "target", "target", "target"]),
        (2, [0.9, 0.2, 0.8, 0.1], ["draft", "target", "draft", "target", "target"]),
        (0, [0.9, 0.2, 0.8, 0.1, 0.9], ["draft", "target", "draft", "target", "draft"]),
    ]:
        draft = ScriptedModel("draft", DRAFT5, params=100)
        target = ScriptedModel("target", TARGET5, params=1000)
        reward = QueueReward(rewards)
        trace = RSD(draft=draft, target=target, reward=reward, delta=0.7, escalate_after=k).solve("q")
        assert [s.source for s in trace.steps] == sources, k
        # Once escalated, no draft step is written and no reward call is spent.
        assert len(draft.calls) == trace.usage["reward"].calls == len(rewards)
        assert not reward.values
        assert all(s.rejected_draft is None for s in trace.steps[len(rewards):])
        assert trace.stats.escalated == (len(sources) - len(rewards) if k else 0)


@pytest.mark.parametrize("bad", [-1, 1.5, True, "2"])
def test_escalate_after_refuses_what_is_not_a_count(bad):
    with pytest.raises(InvalidInputError, match="escalate_after"):
        RSD(escalate_after=bad)


def test_escalate_after_reaches_rsd_from_the_settings_every_front_end_shares():
    from rewardspec.build import Models, build_solver, solver_settings

    settings = solver_settings(reward="arithmetic", escalate_after=2)
    models = Models(settings, loader=lambda name: ScriptedModel(name, DRAFT, params=100))
    assert build_solver("rsd", settings, DecodeConfig(), models).escalate_after == 2
    assert isinstance(build_solver("draft", settings, DecodeConfig(), models), SingleModel)
