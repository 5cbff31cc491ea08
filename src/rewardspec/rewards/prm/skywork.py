"""Skywork-o1-Open-PRM-Qwen-2.5 (1.5B, 7B): a value head read at step tokens.

Protocol (SkyworkAI/skywork-o1-prm-inference, ``prepare_input`` and
``derive_step_rewards``; their example passes ``step_token="\\n"``):

* ids = ``tokenizer.encode(bos_token + problem + "\\n")``, then for each
  step ``tokenizer.encode(step)`` followed by the id of the step token
  (``tokenizer.encode("\\n")[-1]``), flagged for a reward;
* the model is Qwen2ForCausalLM wrapped with a value head, ``v_head.summary``
  = Linear(hidden, 1), stored in the checkpoint as
  ``v_head.summary.weight`` / ``v_head.summary.bias``; we load the Qwen2
  decoder and that head, upcasting the hidden state to the head's float32 as
  their ValueHead does;
* reward = sigmoid(value) at each flagged position.

Their code splits a response on the step token, so every line is a step.
Our steps end on "\\n\\n": we strip the step, split it on the step token,
drop empty pieces (their current code stops at an empty piece, an older one
added a second tag) and tag each line; the step's reward is the one at its
last tag, which has seen the whole step.
"""

from __future__ import annotations

from rewardspec.errors import InvalidInputError
from rewardspec.models.hf_common import (
    Source,
    checkpoint_tensors,
    count_params,
)
from rewardspec.rewards.prm.base import TransformersReward, torch, transformers

STEP_TOKEN = "\n"


def load_value_head(source: Source, hidden: int, device):
    tensors = checkpoint_tensors(source, lambda k: "v_head." in k)
    weight = next((v for k, v in tensors.items() if k.endswith("v_head.summary.weight")), None)
    bias = next((v for k, v in tensors.items() if k.endswith("v_head.summary.bias")), None)
    if weight is None:
        raise InvalidInputError(
            f"'{source.label}' has no value head: expected the tensor v_head.summary.weight "
            "(Skywork-o1-Open-PRM layout); is this a Skywork PRM checkpoint?"
        )
    if tuple(weight.shape) != (1, hidden):
        raise InvalidInputError(
            f"'{source.label}': v_head.summary.weight has shape {tuple(weight.shape)}, "
            f"expected (1, {hidden})"
        )
    head = torch.nn.Linear(hidden, 1, bias=bias is not None)
    state = {"weight": weight} if bias is None else {"weight": weight, "bias": bias}
    head.load_state_dict({k: v.float() for k, v in state.items()})
    return head.to(device).eval()


class SkyworkPRM(TransformersReward):
    family = "skywork-prm"

    def __init__(self, source: Source, *, step_token: str = STEP_TOKEN, **kwargs) -> None:
        super().__init__(source, **kwargs)
        if not step_token:
            raise InvalidInputError("skywork-prm: step_token must not be empty")
        self.step_token = step_token
        self.step_token_id = self.tokenizer.encode(step_token)[-1]
        self.bos = self.tokenizer.bos_token or ""
        self.model = self.load(transformers.AutoModel, trust_remote_code=False)
        self.v_head = load_value_head(source, self.model.config.hidden_size, self.device)
        self.params = count_params(self.model, self.v_head)

    def encode(self, question: str, steps: list[str]) -> tuple[list[int], int | None]:
        ids = list(self.tokenizer.encode(self.bos + question + "\n"))
        read = None
        for step in steps:
            pieces = [p for p in step.strip().split(self.step_token) if p != ""] or [""]
            for piece in pieces:
                if piece:
                    ids += self.tokenizer.encode(piece)
                ids.append(self.step_token_id)
            read = len(ids) - 1
        return ids, read

    def forward(self, input_ids, past, last):
        out = self.model(input_ids=input_ids, past_key_values=past, use_cache=True)
        weight = self.v_head.weight
        hidden = self.at(out.last_hidden_state, last).to(device=weight.device, dtype=weight.dtype)
        values = self.v_head(hidden)[:, 0]
        return torch.sigmoid(values).tolist(), out.past_key_values
