"""Qwen2.5-Math-PRM (7B, 72B): a 2-label classifier read at ``<extra_0>`` tags.

Protocol (model card of Qwen/Qwen2.5-Math-PRM-7B):

* messages: system "Please reason step by step, and put your final answer
  within \\boxed{}.", user = the question, assistant = the steps joined by
  ``<extra_0>`` with one after the last (``"<extra_0>".join(steps) +
  "<extra_0>"``); the chat template is applied (no generation prompt) and the
  string tokenized with ``tokenizer.encode``;
* the model is the Qwen2 decoder plus a ``score`` head with 2 labels:
  Linear(h, h) -> ReLU -> Linear(h, 2) in the released checkpoint
  (``score.0.*``, ``score.2.*``, its remote class Qwen2ForProcessRewardModel),
  or one Linear (``score.weight``, the layout of transformers'
  Qwen2ForTokenClassification); both are read from the checkpoint, so no
  remote code runs;
* the reward of a step is softmax(logits)[1] (label 1 = correct) at its
  ``<extra_0>`` position. We report the newest step's.

Each step is stripped of surrounding whitespace (its "\\n\\n" separator is
what ``<extra_0>`` replaces).
"""

from __future__ import annotations

from rewardspec.errors import InvalidInputError
from rewardspec.models.hf_common import (
    Source,
    checkpoint_tensors,
    count_params,
)
from rewardspec.prompts import QWEN_MATH_COT_SYSTEM
from rewardspec.rewards.prm.base import TransformersReward, torch, transformers

STEP_TAG = "<extra_0>"
POSITIVE_LABEL = 1


def load_score_head(source: Source, hidden: int, device, dtype):
    """The ``score`` head stored next to the decoder: one Linear, or the released MLP."""
    tensors = checkpoint_tensors(source, lambda k: k.startswith("score."))
    nn = torch.nn
    if "score.weight" in tensors:
        w = tensors["score.weight"]
        head = nn.Linear(w.shape[1], w.shape[0], bias="score.bias" in tensors)
        head.load_state_dict({k[len("score."):]: v for k, v in tensors.items()})
    elif "score.0.weight" in tensors and "score.2.weight" in tensors:
        w0, w2 = tensors["score.0.weight"], tensors["score.2.weight"]
        head = nn.Sequential(
            nn.Linear(w0.shape[1], w0.shape[0], bias="score.0.bias" in tensors),
            nn.ReLU(),
            nn.Linear(w2.shape[1], w2.shape[0], bias="score.2.bias" in tensors),
        )
        head.load_state_dict({k[len("score."):]: v for k, v in tensors.items()})
    else:
        raise InvalidInputError(
            f"'{source.label}' has no classification head: expected the tensors score.weight "
            "(Qwen2ForTokenClassification) or score.0.weight and score.2.weight "
            "(Qwen2ForProcessRewardModel); is this a Qwen2.5-Math-PRM checkpoint?"
        )
    first, last = (head[0], head[-1]) if isinstance(head, nn.Sequential) else (head, head)
    if first.weight.shape[1] != hidden:
        raise InvalidInputError(
            f"'{source.label}': the score head takes {first.weight.shape[1]} features but the "
            f"model's hidden size is {hidden}"
        )
    if last.weight.shape[0] != 2:
        raise InvalidInputError(
            f"'{source.label}': the score head has {last.weight.shape[0]} labels; a "
            "Qwen2.5-Math-PRM head has 2"
        )
    return head.to(device=device, dtype=dtype).eval()


class QwenMathPRM(TransformersReward):
    family = "qwen-prm"

    def __init__(self, source: Source, *, system: str = QWEN_MATH_COT_SYSTEM,
                 step_tag: str = STEP_TAG, **kwargs) -> None:
        super().__init__(source, **kwargs)
        if not self.tokenizer.chat_template:
            raise InvalidInputError(
                f"'{source.label}': the tokenizer has no chat template; Qwen2.5-Math-PRM scores "
                "a chat (system, user, assistant)"
            )
        self.system = system
        self.step_tag = step_tag
        self.step_tag_id = self.single_token(step_tag, "step tag")
        # The decoder alone (Qwen2Model); the head is read from the same files.
        self.model = self.load(transformers.AutoModel, trust_remote_code=False)
        self.head = load_score_head(source, self.model.config.hidden_size, self.device, self.dtype)
        self.params = count_params(self.model, self.head)

    def messages(self, question: str, steps: list[str]) -> list[dict[str, str]]:
        content = "".join(s.strip() + self.step_tag for s in steps)
        messages = [{"role": "system", "content": self.system}] if self.system else []
        return messages + [{"role": "user", "content": question},
                           {"role": "assistant", "content": content}]

    def encode(self, question: str, steps: list[str]) -> tuple[list[int], int | None]:
        text = self.tokenizer.apply_chat_template(
            self.messages(question, steps), tokenize=False, add_generation_prompt=False
        )
        ids = self.tokenizer.encode(text)
        if not steps:
            return ids, None
        return ids, self.last_index(ids, self.step_tag_id, "step tag")

    def forward(self, input_ids, past, last):
        out = self.model(input_ids=input_ids, past_key_values=past, use_cache=True)
        head = self.head[0] if isinstance(self.head, torch.nn.Sequential) else self.head
        logits = self.head(self.at(out.last_hidden_state, last).to(head.weight.device))
        probs = torch.softmax(logits.float(), dim=-1)[:, POSITIVE_LABEL]
        return probs.tolist(), out.past_key_values
