"""The rewards table (one row per kind, SPECS derived from it) and score_many: batched where a
reward can, one call per candidate otherwise, with the same results and token counts."""

from __future__ import annotations

import pytest

from rewardspec.errors import InvalidInputError
from rewardspec.rewards import (
    REWARDS,
    SPECS,
    ArithmeticReward,
    LikelihoodReward,
    ProductReward,
    RewardKind,
    make_reward,
)
from rewardspec.rewards.base import Candidate, score_many
from rewardspec.specs import split_prefix
from rewardspec.types import RewardScore


def test_specs_are_the_tables_syntaxes_and_each_names_its_row():
    assert SPECS[-1] == "A*B" and len(SPECS) == len(set(SPECS))
    assert {split_prefix(syntax, REWARDS)[0] for syntax in SPECS[:-1]} == set(REWARDS)
    for prefix, row in REWARDS.items():
        assert row.prefix == prefix and all(s.startswith(prefix) for s in row.syntax)
    assert {"likelihood", "arithmetic", "ratio", "head", "qwen-prm", "orm", "judge", "vllm-prm",
            "vllm-orm"} <= set(REWARDS)


def test_rows_build_rewards_and_products_multiply_them():
    loaded = []

    def load(name):
        loaded.append(name)
        return type("M", (), {"name": name, "params": 5})()

    assert isinstance(make_reward(" arithmetic "), ArithmeticReward)
    own = make_reward("likelihood-min")
    assert isinstance(own, LikelihoodReward) and (own.model, own.reduce) == (None, "min")
    other = make_reward("likelihood:openai:m@http://a/v1?params=7", load)
    assert loaded == ["openai:m@http://a/v1?params=7"]  # the model's spec is passed on whole
    assert (other.name, other.params) == ("likelihood:openai:m@http://a/v1?params=7", 5)
    product = make_reward("arithmetic*likelihood-min")
    assert isinstance(product, ProductReward) and product.name == "arithmetic*likelihood-min"


@pytest.mark.parametrize(("spec", "message"), [
    ("prm-of-my-dreams:x", "expected one of: likelihood, likelihood:MODEL"),
    ("arithmetic:x", "arithmetic takes no model and no options"),
    ("likelihood?power=2", "likelihood takes no options"),
    ("likelihood:target", "needs a model loader"),
    ("judge:qwen-7b", "write judge:MODEL@http"),
    ("vllm-orm:m@http://a/v1?scale=0", "option scale='0': expected a finite number > 0"),
    ("arithmetic*", "unknown reward ''"),
])
def test_what_a_bad_reward_spec_is_told(spec, message):
    with pytest.raises(InvalidInputError, match=message.replace("?", r"\?").replace("*", r"\*")):
        make_reward(spec)


class Fixed:
    """A reward with a fixed value that records each call, in order, in a shared log."""

    params = 0

    def __init__(self, name: str, value: float, log: list, scored: int = 2) -> None:
        self.name, self.value, self.log, self.scored = name, value, log, scored

    def score(self, question, previous_steps, step, generation=None):
        self.log.append((self.name, step))
        return RewardScore(self.value, scored_tokens=self.scored, prompt_tokens=len(previous_steps))


class Batched(Fixed):
    def score_many(self, question, candidates):
        self.log.append((self.name, tuple(c.step for c in candidates)))
        return [RewardScore(self.value, scored_tokens=self.scored, prompt_tokens=len(c.previous_steps))
                for c in candidates]


def load_fixed(spec, load):
    """A loader as a new reward's own file would hold it."""
    return Fixed(spec.text, spec.options.number("value", 0.5, minimum=0), [])


def test_a_new_reward_is_one_row(monkeypatch):
    monkeypatch.setitem(REWARDS, "fixed", RewardKind("fixed", ("fixed?value=V",), f"{__name__}:load_fixed"))
    reward = make_reward("arithmetic*fixed?value=0.25")
    assert reward.score("q", [], "2+2=4").value == 0.25
    with pytest.raises(InvalidInputError, match="value='-1'"):
        make_reward("fixed?value=-1")


CANDIDATES = [Candidate(["a"], "x"), Candidate(["a"], "y"), (["a", "b"], "z")]  # a plain tuple will do


def test_score_many_loops_score_where_a_reward_cannot_batch():
    log: list = []
    scores = score_many(Fixed("f", 0.4, log), "q", CANDIDATES)
    assert log == [("f", "x"), ("f", "y"), ("f", "z")]
    assert [(s.value, s.scored_tokens, s.prompt_tokens) for s in scores] == [(0.4, 2, 1), (0.4, 2, 1), (0.4, 2, 2)]


def test_score_many_makes_one_call_where_a_reward_batches_and_checks_its_length():
    log: list = []
    assert len(score_many(Batched("b", 0.4, log), "q", CANDIDATES)) == 3
    assert log == [("b", ("x", "y", "z"))]

    class Short(Batched):
        def score_many(self, question, candidates):
            return super().score_many(question, candidates)[:1]

    with pytest.raises(RuntimeError, match="1 scores for 3 candidates"):
        score_many(Short("s", 0.4, []), "q", CANDIDATES)
    assert score_many(Short("s", 0.4, []), "q", []) == []


def test_a_product_batches_its_batching_parts_and_keeps_the_others_in_score_order():
    log: list = []
    parts = (Fixed("f", 0.5, log), Batched("b", 0.8, log), Fixed("g", 2.0, log, scored=3))
    product = ProductReward(*parts)
    got = score_many(product, "q", CANDIDATES)
    assert log[0] == ("b", ("x", "y", "z"))
    # the looped parts in the order one call per candidate makes them: f, g for x, then for y, …
    assert log[1:] == [("f", "x"), ("g", "x"), ("f", "y"), ("g", "y"), ("f", "z"), ("g", "z")]
    want = [product.score("q", list(c[0]), c[1]) for c in CANDIDATES]
    assert got == want
    assert got[0] == RewardScore(min(1.0, 0.5 * 0.8 * 2.0), scored_tokens=7, prompt_tokens=3, raw=0.8)
