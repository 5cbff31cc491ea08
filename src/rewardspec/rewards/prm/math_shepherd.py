"""Math-Shepherd (peiyi9979/math-shepherd-mistral-7b-prm): "+"/"-" after " ки" tags.

Protocol (the model card):

* input = ``f"{question} {output}"``, where the output's steps each end with
  the tag " ки" (``"Step 1: ... ки\\nStep 2: ... ки"``), tokenized with
  ``tokenizer.encode`` (with its BOS);
* candidate tokens = ``tokenizer.encode("+ -")[1:]`` (good "+", bad "-"),
  tag id = ``tokenizer.encode("ки")[-1]``;
* the model is a plain Mistral causal LM; a step's reward is
  softmax(logits[..., [+, -]])[0] = P("+") at its tag's position.

Our steps keep their "\\n\\n" separator: the tag goes between a step's text
and its trailing whitespace (as search-and-learn does, " ки\\n\\n"); the
newest step ends with " ки", as in the model card. The "Step k:" prefixes
of the card's example are the policy's own words and are not added.
"""

from __future__ import annotations

from rewardspec.errors import InvalidInputError
from rewardspec.models.hf_common import Source, count_params
from rewardspec.rewards.prm.base import TransformersReward, torch, transformers

STEP_TAG = "ки"


def shepherd_text(question: str, steps: list[str], step_tag: str = STEP_TAG) -> str:
    """The model card's input; each step's trailing whitespace stays after its tag."""
    parts = [question, " "]
    for i, step in enumerate(steps):
        body = step.rstrip()
        parts += [body, " ", step_tag]
        if i < len(steps) - 1:
            parts.append(step[len(body):])
    return "".join(parts)


def shepherd_tokens(tokenizer, name: str, step_tag: str = STEP_TAG, good: str = "+",
                    bad: str = "-") -> tuple[list[int], int]:
    """([good id, bad id], tag id) as the model card derives them from the tokenizer."""
    candidates = tokenizer.encode(f"{good} {bad}")
    bos = tokenizer.bos_token_id
    if candidates and bos is not None and candidates[0] == bos:
        candidates = candidates[1:]
    if len(candidates) != 2:
        raise InvalidInputError(
            f"{name}: '{good} {bad}' should be two tokens (good, bad) after the BOS, got "
            f"{len(candidates)}; is this a Math-Shepherd checkpoint?"
        )
    return candidates, tokenizer.encode(step_tag)[-1]


class MathShepherdPRM(TransformersReward):
    family = "math-shepherd"

    def __init__(self, source: Source, *, step_tag: str = STEP_TAG, good: str = "+",
                 bad: str = "-", **kwargs) -> None:
        super().__init__(source, **kwargs)
        self.step_tag = step_tag
        self.candidates, self.step_tag_id = shepherd_tokens(self.tokenizer, self.name, step_tag, good, bad)
        self.model = self.load(transformers.AutoModelForCausalLM)
        self.params = count_params(self.model)

    def text(self, question: str, steps: list[str]) -> str:
        return shepherd_text(question, steps, self.step_tag)

    def encode(self, question: str, steps: list[str]) -> tuple[list[int], int | None]:
        ids = self.tokenizer.encode(self.text(question, steps))
        if not steps:
            return ids, None
        return ids, self.last_index(ids, self.step_tag_id, "step tag")

    def forward(self, input_ids, past, last):
        logits, past = self.causal_logits(input_ids, past, last)
        return torch.softmax(logits[:, self.candidates].float(), dim=-1)[:, 0].tolist(), past
