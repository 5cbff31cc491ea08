"""An outcome reward model used as a PRM (e.g. Skywork/Skywork-Reward-Llama-3.1-8B).

Protocol (the model card of Skywork-Reward-Llama-3.1-8B; the usual one for
AutoModelForSequenceClassification reward models):

* conversation = user: the question, assistant: the response so far (the
  steps up to and including the newest, trailing whitespace removed);
* ids = the chat template applied and tokenized (no extra BOS);
* score = ``model(ids).logits[0][0]``: the one-label head at the last token
  that is not padding (transformers' pooling).

The score is unbounded; RSD's threshold δ needs a reward in [0, 1], so it is
mapped with ``r = sigmoid((score - center) / scale)`` (defaults center=0,
scale=1). ``center`` is the score that maps to 0.5: set it to the ORM's
typical score of a borderline answer; ``scale`` sets how fast r moves.
"""

from __future__ import annotations

import math

from rewardspec.errors import InvalidInputError
from rewardspec.models.hf_common import Source, count_params
from rewardspec.rewards.prm.base import TransformersReward, transformers


def squash(score: float, center: float = 0.0, scale: float = 1.0) -> float:
    """sigmoid((score - center) / scale), computed without overflow."""
    z = (score - center) / scale
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


class OutcomeRewardAsPRM(TransformersReward):
    family = "orm"

    def __init__(self, source: Source, *, center: float = 0.0, scale: float = 1.0,
                 **kwargs) -> None:
        if not scale > 0:
            raise InvalidInputError(f"orm: scale must be > 0, got {scale}")
        super().__init__(source, **kwargs)
        if not self.tokenizer.chat_template:
            raise InvalidInputError(
                f"'{source.label}': the tokenizer has no chat template; an ORM scores a "
                "conversation (user question, assistant response)"
            )
        self.center, self.scale = float(center), float(scale)
        self.model = self.load(transformers.AutoModelForSequenceClassification)
        labels = self.model.config.num_labels
        if labels != 1:
            raise InvalidInputError(
                f"'{source.label}' has {labels} labels; an outcome reward model has one score"
            )
        self.pad_id = self.model.config.pad_token_id
        self.batch_pad_id = self.pad_id  # without one, transformers cannot pool a batch
        self.params = count_params(self.model)
        self.last_raw_score: float | None = None

    def conversation(self, question: str, steps: list[str]) -> list[dict[str, str]]:
        conv = [{"role": "user", "content": question}]
        if steps:
            conv.append({"role": "assistant", "content": "".join(steps).rstrip()})
        return conv

    def encode(self, question: str, steps: list[str]) -> tuple[list[int], int | None]:
        text = self.tokenizer.apply_chat_template(
            self.conversation(question, steps), tokenize=False, add_generation_prompt=False
        )
        ids = self.tokenizer.encode(text, add_special_tokens=False)
        if not steps:
            return ids, None
        read = len(ids) - 1
        while self.pad_id is not None and read > 0 and ids[read] == self.pad_id:
            read -= 1
        return ids, read

    def forward(self, input_ids, past, last):
        # The model pools each row at its last token that is not padding: the row's own end,
        # since encode cuts trailing pad tokens and a batch is padded with the pad token.
        out = self.model(input_ids=input_ids, past_key_values=past, use_cache=True)
        raw = out.logits[:, 0].float().tolist()
        self.last_raw_score = raw[-1]
        return [squash(score, self.center, self.scale) for score in raw], out.past_key_values
