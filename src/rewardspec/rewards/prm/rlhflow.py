"""RLHFlow Llama3.1-8B PRMs (-Mistral-Data, -Deepseek-Data): "+" as the assistant's reply.

Protocol (RLHFlow/RLHF-Reward-Modeling, math-rm/prm_evaluate.py):

* a conversation where each step is a user turn (the first one is
  ``question + " " + step``) answered by an assistant turn "+";
* ids = ``tokenizer.apply_chat_template(conversation)`` (no extra BOS);
* candidate tokens ``tokenizer.encode("+")[-1]``, ``tokenizer.encode("-")[-1]``;
* the reward of the last step is softmax(logits[-3, [+, -]])[0] = P("+"):
  position -3 is the one that predicts the last "+" (followed by
  ``<|eot_id|>``) in the Llama 3.1 template. We find that position as the
  token before the last "+" so any template works, and cut the ids there.

Each step is stripped (the Llama 3 template trims message contents anyway).
"""

from __future__ import annotations

from rewardspec.errors import InvalidInputError
from rewardspec.models.hf_common import Source, count_params
from rewardspec.rewards.prm.base import TransformersReward, torch, transformers


class RLHFlowPRM(TransformersReward):
    family = "rlhflow"

    def __init__(self, source: Source, *, good: str = "+", bad: str = "-", **kwargs) -> None:
        super().__init__(source, **kwargs)
        if not self.tokenizer.chat_template:
            raise InvalidInputError(
                f"'{source.label}': the tokenizer has no chat template; the RLHFlow PRMs score a "
                "conversation"
            )
        self.good = good
        self.good_id = self.tokenizer.encode(good)[-1]
        self.bad_id = self.tokenizer.encode(bad)[-1]
        self.model = self.load(transformers.AutoModelForCausalLM)
        self.params = count_params(self.model)

    def conversation(self, question: str, steps: list[str]) -> list[dict[str, str]]:
        if not steps:
            return [{"role": "user", "content": question}]
        conv = []
        for k, step in enumerate(steps):
            text = f"{question} {step.strip()}" if k == 0 else step.strip()
            conv += [{"role": "user", "content": text}, {"role": "assistant", "content": self.good}]
        return conv

    def encode(self, question: str, steps: list[str]) -> tuple[list[int], int | None]:
        text = self.tokenizer.apply_chat_template(
            self.conversation(question, steps), tokenize=False, add_generation_prompt=False
        )
        ids = self.tokenizer.encode(text, add_special_tokens=False)
        if not steps:
            return ids, None
        return ids, self.last_index(ids, self.good_id, "assistant's '+' reply") - 1

    def forward(self, input_ids, past, last):
        logits, past = self.causal_logits(input_ids, past, last)
        return torch.softmax(logits[:, [self.good_id, self.bad_id]].float(), dim=-1)[:, 0].tolist(), past
