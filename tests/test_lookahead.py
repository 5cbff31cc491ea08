"""Proposals checked in batched passes: where guesses come from, and that checking one never
changes a token, at any temperature, whatever the guess (pure logic, no model)."""

from __future__ import annotations

import hashlib
import random

import numpy as np
import pytest

from rewardspec.detokenize import ByteDetokenizer
from rewardspec.models.base import SamplingParams
from rewardspec.models.lookahead import CPU_SHAPE, Proposer, Shape, continuation
from rewardspec.models.stepping import write_step

VOCAB = 40
EOS = 0


def arr(*tokens: int) -> np.ndarray:
    return np.asarray(tokens, dtype=np.int64)


def test_continuation_follows_the_latest_longest_match():
    corpus = arr(1, 2, 3, 9, 1, 2, 4, 5, 6, 3, 7)
    assert continuation(corpus, arr(8, 2, 3), 2) == [9, 1]  # "2 3" (n=2) beats the later "3"
    assert continuation(corpus, arr(8, 8, 3), 2) == [7]  # "3" alone: its latest occurrence
    assert continuation(corpus, arr(8, 8, 2), 3) == [4, 5, 6]
    assert continuation(corpus, arr(8), 3) == []
    assert continuation(arr(5, 6, 7), arr(6, 7), 3) == []  # the corpus's own end is no match
    assert continuation(corpus, arr(2, 3), 2, min_n=3) == []


def test_a_rewrite_is_offered_while_aligned_then_realigned_by_lookup():
    rewrite = [10, 11, 12, 13, 14, 15, 16]
    p = Proposer(rewrite=rewrite, shape=Shape(chunk=3, min_match=1))
    assert p.propose([10]) == ([11, 12, 13], "rewrite")
    assert p.propose([10, 11, 12, 13]) == ([14, 15, 16], "rewrite")
    assert p.propose([10, 11, 20]) == ([], "")  # parted at 20: nothing in the rewrite follows it
    assert p.propose([10, 11, 20, 14]) == ([15, 16], "rewrite")  # back on the rewrite after "14"
    assert Proposer(rewrite=rewrite).propose([99]) == ([], "")


def test_prompt_lookup_guesses_from_the_context_and_the_step_so_far():
    p = Proposer(context=[1, 2, 3, 4, 5], lookup=2)
    assert p.propose([7, 3]) == ([4, 5], "ngram")
    assert p.propose([7, 8, 7]) == ([8, 7], "ngram")  # the step's own earlier tokens count too
    assert not Proposer().active and Proposer(lookup=1).active and Proposer(rewrite=[1]).active
    strict = Proposer(context=[1, 2, 3, 4, 5], lookup=2, shape=CPU_SHAPE)  # a CPU wants 3-token matches
    assert strict.propose([7, 3]) == ([], "") and strict.propose([2, 3]) == ([], "")
    assert strict.propose([1, 2, 3]) == ([4, 5], "ngram")
    both = Proposer(rewrite=[3, 9, 9], context=[1, 2, 3, 4], lookup=2)
    assert both.propose([3]) == ([9, 9], "rewrite")  # the rejected step first
    assert both.propose([3, 4]) == ([], "") or both.propose([3, 4])[1] == "ngram"


class HistoryModel:
    """A decoder whose logits are a fixed function of the whole token history, so a pass over
    many tokens gives exactly what one pass per token would; it counts passes and checks that
    dropped tokens really leave its cache."""

    def __init__(self, prompt: list[int], script: list[int], boost: float = 3.0) -> None:
        self.boost = boost
        self.history = list(prompt)
        self.prompt_len = len(prompt)
        self.script = script  # what greedy decoding writes: each position's favourite token
        self.passes = 0

    def row(self, history: list[int]) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(bytes(str(history), "ascii")).digest()[:8], "little")
        logits = np.random.default_rng(seed).normal(0.0, 1.0, VOCAB).astype(np.float32)
        i = len(history) - self.prompt_len
        logits[self.script[i] if i < len(self.script) else EOS] += self.boost
        return logits

    def logits(self) -> np.ndarray:
        return self.row(self.history)

    def feed(self, tokens, rows: bool = False):
        self.passes += 1
        out = []
        for token in tokens:
            self.history.append(int(token))
            out.append(self.row(self.history))
        return out if rows else None

    def drop(self, n: int) -> None:
        assert 0 < n <= len(self.history) - self.prompt_len
        del self.history[-n:]


def write(model: HistoryModel, sampling: SamplingParams, proposer: Proposer | None):
    detok = ByteDetokenizer(lambda t: bytes([65 + t % 26]))
    return write_step(sampling, model, lambda t: t == EOS, detok, len(model.history), proposer)


SCRIPT = [5, 6, 7, 8, 9, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22]


@pytest.mark.parametrize("temperature", [0.0, 0.8, 1.5])
def test_checking_any_guess_writes_the_same_tokens(temperature):
    """Whatever is proposed (the right text, a text with one token changed, noise), the step
    and its log-probabilities are the ones written without proposals, for every seed."""
    rng = random.Random(0)
    prompt = [1, 2, 5, 6, 7, 3]
    guesses = [SCRIPT, SCRIPT[:4] + [30] + SCRIPT[5:], [rng.randrange(1, VOCAB) for _ in range(20)], []]
    saved = 0
    for seed, shape in zip(range(12), [Shape(chunk=6, min_match=1), CPU_SHAPE] * 6):
        sampling = SamplingParams(max_tokens=18, temperature=temperature, seed=seed, separator="\x00")
        plain_model = HistoryModel(prompt, SCRIPT)
        plain = write(plain_model, sampling, None)
        for guess in guesses:
            for lookup in (0, 3):
                model = HistoryModel(prompt, SCRIPT)
                gen = write(model, sampling, Proposer(rewrite=guess, context=prompt, lookup=lookup, shape=shape))
                assert (gen.text, gen.generated_tokens, gen.finish_reason) == \
                    (plain.text, plain.generated_tokens, plain.finish_reason)
                assert gen.token_logprobs == pytest.approx(plain.token_logprobs, abs=1e-6)
                # Unkept guesses left the cache; a last token kept from a guess may stay in it.
                extra = len(model.history) - len(plain_model.history)
                assert model.history[: len(plain_model.history)] == plain_model.history and extra in (0, 1)
                look = gen.lookahead
                if guess or lookup:
                    assert look is not None and 0 <= look.passes_saved <= look.accepted <= look.offered
                    assert look.passes_saved == look.accepted - extra
                    assert model.passes == plain_model.passes - look.passes_saved
                    saved += look.passes_saved
                else:
                    assert look is None
    assert saved > 0


def test_a_rewrite_that_parts_at_one_token_is_kept_on_both_sides_of_it():
    script = list(range(5, 27))  # what greedy writes, no token twice
    sampling = SamplingParams(max_tokens=len(script), temperature=0.0, separator="\x00")
    changed = script[:8] + [33] + script[9:]  # the rejected step: one token wrong
    model = HistoryModel([1, 2, 3], script, boost=10.0)
    gen = write(model, sampling, Proposer(rewrite=changed, shape=Shape(chunk=64, min_match=1)))
    look = gen.lookahead
    # Token 0 comes from the prompt's logits; the first pass offers the 21 after it, of which 1..7
    # are kept. Token 8 is the model's own; at token 9 ("14") it realigns on the rejected step,
    # whose last 12 tokens the second pass offers and the model keeps.
    assert (look.rewrite_offered, look.rewrite_accepted, look.verify_passes) == (21 + 12, 7 + 12, 2)
    assert look.passes_saved == 7 + 11  # the step's last token is never run
    assert look.ngram_offered == 0 and model.history[3:] == script


def test_prompt_lookup_on_a_model_behind_a_server_is_refused_before_any_question():
    from fakes import ScriptedModel

    from rewardspec.build import Models, build_solver
    from rewardspec.errors import InvalidInputError
    from rewardspec.settings import solver_settings

    settings = solver_settings(reward="arithmetic", prompt_lookup=2, prompt_lookup_roles=["target"])
    models = Models(settings, loader=lambda name: ScriptedModel(name, ["2 + 2 = 4\n\n"], params=100))
    with pytest.raises(InvalidInputError, match="prompt_lookup needs an in-process model.*the target.*speculative"):
        build_solver("rsd", settings, settings.decode_config(), models)
    quiet = solver_settings(reward="arithmetic", prompt_lookup=0)
    assert build_solver("rsd", quiet, quiet.decode_config(), Models(quiet, loader=models.loader)) is not None


def test_settings_refuse_bad_lookahead_values_in_one_line():
    from rewardspec.errors import InvalidInputError
    from rewardspec.settings import solver_settings

    with pytest.raises(InvalidInputError, match="prompt_lookup.*prompt_lookup_roles"):
        solver_settings(prompt_lookup=-1, prompt_lookup_roles=["reward"])
    decode = solver_settings(rewrite_reuse=False, prompt_lookup=3, prompt_lookup_roles=["draft"]).decode_config()
    assert (decode.rewrite_reuse, decode.prompt_lookup, decode.prompt_lookup_roles) == (False, 3, ("draft",))
    assert decode.sampling(10, 0, "draft").prompt_lookup == 3 and decode.sampling(10, 0, "target").prompt_lookup == 0


def test_a_run_and_a_trace_say_where_proposals_saved_passes():
    from rewardspec.display import lookahead_text
    from rewardspec.eval.metrics import summarize
    from rewardspec.eval.records import SampleRecord
    from rewardspec.types import Lookahead, ModelUsage, Trace

    trace = Trace(question="q", method="rsd")
    assert lookahead_text(trace) is None
    trace.usage["target"] = ModelUsage(params=10, lookahead=Lookahead(rewrite_offered=52, rewrite_accepted=31,
                                                                       ngram_offered=20, ngram_accepted=6,
                                                                       verify_passes=9, passes_saved=35,
                                                                       verify_seconds=0.84))
    assert lookahead_text(trace) == ("checked proposals: target: kept 31 of 52 tokens of rejected steps, 6 of 20 "
                                     "tokens from lookup; 35 decode passes saved; checking took 0.8s")
    record = SampleRecord(id="1", dataset="d", question="q", gold="4", answer="4", correct=True, level=None,
                          response="", method="rsd", delta=0.7, steps=[], usage=trace.usage, finish_reason="eos",
                          wall_seconds=1.0)
    total = summarize([record, record]).per_model["target"].lookahead
    assert (total.rewrite_accepted, total.passes_saved) == (62, 70)
    assert summarize([record]).to_dict()["per_model"]["target"]["lookahead"]["ngram_offered"] == 20
