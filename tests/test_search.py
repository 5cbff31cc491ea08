"""Search baselines with seeded fake models: choice, voting and accounting."""

import pytest
from fakes import KeywordReward, SeededModel

from rewardspec.errors import InvalidInputError
from rewardspec.grading import is_correct
from rewardspec.types import Generation
from rewardspec.methods.base import DecodeConfig
from rewardspec.methods.best_of_n import BestOfN
from rewardspec.methods.majority import MajorityVote
from rewardspec.methods.sampler import aggregate
from rewardspec.methods.step_search import StepSearch


def test_aggregations():
    assert aggregate([0.9, 0.2, 0.8], "last") == 0.8
    assert aggregate([0.9, 0.2, 0.8], "min") == 0.2
    assert aggregate([0.5, 0.5], "prod") == pytest.approx(0.25)
    assert aggregate([], "min") == 0.0
    with pytest.raises(InvalidInputError):
        aggregate([1.0], "mean-ish")


def test_best_of_n_picks_the_rewarded_sample_and_counts_every_token():
    draft = SeededModel(["3", "7", "5", "9"])
    solver = BestOfN(draft, KeywordReward("7"), n=6, aggregation="min")
    trace = solver.solve("q")
    assert trace.answer == "7"
    assert trace.usage["draft"].generated_tokens == 6 * 7
    assert trace.usage["draft"].discarded_tokens == 5 * 7
    assert trace.usage["reward"].calls == 12 and trace.usage["reward"].scored_tokens == 24
    assert all(s.reward is not None for s in trace.steps)


def test_majority_vote_groups_equivalent_answers():
    # Seeds 0..4 map to answers 6, 6.0, 3, 6, 3 -> "6" wins with 3 votes.
    class Fixed(SeededModel):
        def generate_step(self, messages, response_prefix, sampling):
            self.answers = ["6", "6.0", "3", "6", "3"]
            return super().generate_step(messages, response_prefix, sampling)

    draft = Fixed([])
    solver = MajorityVote(draft, n=5, dataset="gsm8k", config=DecodeConfig(seed=0))
    trace = solver.solve("q")
    assert trace.answer in ("6", "6.0")
    assert trace.usage["reward"].calls == 0 and draft.calls == 10


def test_majority_votes_on_answers_as_the_grader_reads_them():
    # B is said in words (no box, no number), C is boxed: B must still get its 3 votes.
    class Lettered(SeededModel):
        def generate_step(self, messages, response_prefix, sampling):
            generation = super().generate_step(messages, response_prefix, sampling)
            if response_prefix:
                pick = response_prefix.split()[1].rstrip(".")
                text = "The correct option is (B) Neon." if pick == "B" else f"So \\boxed{{{pick}}}"
                return Generation(text, 3, 2, "eos", [-0.1] * 3)
            return generation

    trace = MajorityVote(Lettered(["B", "B", "C", "B", "C"]), n=5, dataset="mmlu_stem",
                         config=DecodeConfig(seed=0)).solve("q")
    assert is_correct(trace.text, "B", "mmlu_stem")


def test_process_best_of_n_keeps_the_best_step():
    draft = SeededModel(["1", "2", "8", "4"])
    trace = StepSearch(draft, KeywordReward("8"), width=4, beam_size=1).solve("q")
    assert trace.answer == "8" and len(trace.steps) == 2
    assert trace.usage["draft"].calls == 8
    assert trace.usage["draft"].discarded_tokens == trace.usage["draft"].generated_tokens - 7


def test_beam_search_and_bad_widths():
    draft = SeededModel(["1", "2", "8", "4"])
    trace = StepSearch(draft, KeywordReward("8"), width=4, beam_size=2, method="beam").solve("q")
    assert trace.answer == "8" and trace.method == "beam"
    with pytest.raises(InvalidInputError):
        StepSearch(draft, KeywordReward("8"), width=1, beam_size=2)
    with pytest.raises(InvalidInputError):
        BestOfN(draft, KeywordReward("8"), n=0)


def test_best_of_n_and_majority_share_samples_but_each_reports_its_cost():
    draft, cache = SeededModel(["3", "7", "5", "9"]), {}
    questions = [f"question {i}" for i in range(70)]  # more than any fixed-size cache would keep
    first = [BestOfN(draft, KeywordReward("7"), n=4, cache=cache).solve(q) for q in questions]
    calls = draft.calls
    second = [MajorityVote(draft, n=4, cache=cache).solve(q) for q in questions]
    assert draft.calls == calls  # the samples were reused
    for role_usage in ("generated_tokens", "prompt_tokens"):  # best-of-N scores without a second draft pass
        assert [getattr(t.usage["draft"], role_usage) for t in second] == \
            [getattr(t.usage["draft"], role_usage) for t in first]
    MajorityVote(draft, n=4).solve(questions[0])  # no cache given: nothing shared behind the caller's back
    assert draft.calls > calls


def test_best_of_n_works_with_the_self_likelihood_reward():
    from rewardspec.rewards.likelihood import LikelihoodReward

    draft = SeededModel(["3", "7"])
    trace = BestOfN(draft, LikelihoodReward(), n=2).solve("q with self likelihood")
    assert trace.answer in ("3", "7") and all(s.reward is not None for s in trace.steps if s.text.strip())


def test_step_search_stops_at_the_question_ceiling():
    class Rambling:
        """Every other candidate rambles for 100 tokens; the reward keeps the short ones."""

        name, params = "rambling", 10

        def generate_step(self, messages, response_prefix, sampling):
            text, tokens = ("short\n\n", 10) if sampling.seed % 2 == 0 else ("long\n\n", 100)
            tokens = min(tokens, sampling.max_tokens)
            return Generation(text, tokens, 3, "step", [-0.1] * tokens)

    config = DecodeConfig(max_tokens=1000, max_total_tokens=1000, max_steps=64)
    trace = StepSearch(Rambling(), KeywordReward("short"), width=2, config=config).solve("q")
    assert trace.finish_reason == "budget"
    assert trace.response_tokens < 1000  # the answer was short: the ceiling, not max_tokens, ended it
    assert trace.usage["draft"].generated_tokens == 2000  # the ceiling x candidates per step, not a token more


def test_a_draft_that_reuses_a_freed_drafts_id_never_gets_its_samples():
    cache = {}
    first = SeededModel(["3"])
    BestOfN(first, KeywordReward("3"), n=2, cache=cache).solve("q")
    key = next(iter(cache))
    del first  # the cache entry keeps it alive, so no new model can take its id
    second = SeededModel(["7"])
    trace = BestOfN(second, KeywordReward("7"), n=2, cache=cache).solve("q")
    assert second.calls == 4 and trace.answer == "7"
    assert id(second) != key[0]


class BatchCountingReward(KeywordReward):
    """Scores as KeywordReward does, counting the batched calls the search methods make."""

    def __init__(self, good: str):
        super().__init__(good)
        self.batches: list[int] = []

    def score_many(self, question, candidates):
        self.batches.append(len(candidates))
        return [self.score(question, c.previous_steps, c.step, c.generation) for c in candidates]


def test_search_methods_score_candidates_in_batches():
    reward = BatchCountingReward("7")
    BestOfN(SeededModel(["3", "7"]), reward, n=3).solve("q")
    assert reward.batches == [2, 2, 2]  # one batch per sample: its two steps
    reward = BatchCountingReward("8")
    StepSearch(SeededModel(["1", "8"]), reward, width=4, beam_size=2).solve("q")
    assert reward.batches[0] == 4 and all(b == 2 for b in reward.batches[1:])  # width, then width per beam
