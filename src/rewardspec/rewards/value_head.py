"""A learned value head: a linear probe on a model's hidden state at the end of the step.

The paper's Table 4 merges the PRM into a model; the cheapest form of that is a probe
on a hidden state the engine computes anyway. Read on the draft, it is free at decode
time: the draft's KV cache already holds the step, so one token is evaluated again with
embeddings on. Read on the target, it costs one target prefill over the step (counted as
the reward's scored tokens), which a later rewrite by the target then reuses.

A head is a JSON file (``rewardspec train-reward`` writes it; a few KB): the model it
reads, the role that model plays (``draft`` or ``target``), a standardisation and a
logistic regression, and what it was trained on. ``head:PATH`` uses a file, ``head:NAME``
one shipped in the package (``rewardspec/heads/NAME.json``). The probability of a correct
outcome, σ(w·(h − μ)/s + b), is the reward.
"""

from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from rewardspec.errors import InvalidInputError
from rewardspec.prompts import QWEN_MATH_COT_SYSTEM, build_messages
from rewardspec.specs import Spec
from rewardspec.types import Generation, RewardScore

FORMAT = "rewardspec-value-head/1"
READS = ("draft", "target")


@dataclass
class ValueHead:
    """The probe and where it reads; ``provenance`` says how it was made (data, command)."""

    model: str
    read: str
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    provenance: dict[str, Any] = field(default_factory=dict)

    def probability(self, hidden: np.ndarray) -> float:
        z = float(np.dot(self.weights, (np.asarray(hidden, dtype=np.float64) - self.mean) / self.scale)) + self.bias
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def to_json(self) -> dict[str, Any]:
        def floats(a: np.ndarray) -> list[float]:
            return [float(f"{x:.6g}") for x in a]

        return {"format": FORMAT, "model": self.model, "read": self.read, "hidden_size": len(self.weights),
                "mean": floats(self.mean), "scale": floats(self.scale), "weights": floats(self.weights),
                "bias": float(f"{self.bias:.6g}"), "provenance": self.provenance}

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> ValueHead:
        where = str(path)
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InvalidInputError(f"value head '{where}' does not exist; train one with "
                                    "`rewardspec train-reward` or name a shipped one") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidInputError(f"value head '{where}' is not JSON: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise InvalidInputError(f"'{where}' is not a value head (its format is not {FORMAT})")
        try:
            arrays = [np.asarray(data[k], dtype=np.float64) for k in ("mean", "scale", "weights")]
            head = cls(str(data["model"]), str(data["read"]), *arrays, float(data["bias"]),
                       data.get("provenance", {}))
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"value head '{where}' is incomplete or malformed ({exc})") from None
        if head.read not in READS:
            raise InvalidInputError(f"value head '{where}': read must be one of {', '.join(READS)}")
        if not (len(head.mean) == len(head.scale) == len(head.weights) > 0) or np.any(head.scale <= 0):
            raise InvalidInputError(f"value head '{where}': mean, scale and weights must be one length, scale > 0")
        return head


def shipped_heads() -> dict[str, Path]:
    """Heads inside the package, by name (the file's stem)."""
    root = resources.files("rewardspec") / "heads"
    if not root.is_dir():
        return {}
    return {Path(str(p)).stem: Path(str(p)) for p in root.iterdir() if str(p).endswith(".json")}


def find_head(body: str) -> tuple[Path, ValueHead]:
    """A head by file path or by the name of one shipped in the package (a file wins)."""
    if not body:
        raise InvalidInputError("head needs a file or a shipped head's name: head:PATH or head:NAME")
    shipped = shipped_heads()
    path = shipped[body] if body in shipped and not Path(body).is_file() else Path(body).expanduser()
    return path, ValueHead.load(path)


def hidden_state_of(model, messages, response_prefix: str) -> tuple[np.ndarray, int]:
    """The model's final hidden state after ``response_prefix``, and prompt tokens it evaluated."""
    reader = getattr(model, "hidden_state", None)
    if reader is None:
        raise InvalidInputError(
            f"the value head reads hidden states, which the llama.cpp backend provides; "
            f"'{getattr(model, 'name', model)}' is on a backend that does not")
    return reader(messages, response_prefix)


class ValueHeadReward:
    """r = the head's probability after the prefix and this step; with ``advantage``, the change
    it makes: r = clip(1 + V(prefix + step) − V(prefix), 0, 1).

    The advantage form follows process advantage verifiers (Setlur et al., 2024, "Rewarding
    Progress"). A step after which the value drops is the one a rewrite can repair, which is the
    *harmful* step of the rollout labels. A step that is merely low in value after a doomed
    prefix keeps its reward, so RSD does not pay the target for rewrites that cannot help.
    V(prefix) is usually the previous step's V(prefix + step), from a small cache. Only when
    the target wrote that step is one more read needed, which the draft's next step reuses.
    """

    CACHE = 1024

    def __init__(self, head: ValueHead, model, system_prompt: str | None = QWEN_MATH_COT_SYSTEM,
                 name: str | None = None, advantage: bool = False) -> None:
        self.head, self.model, self.system_prompt, self.advantage = head, model, system_prompt, advantage
        self.name = name or f"head:{head.model}"
        # The draft's reading costs one token; counted at the model's size all the same.
        self.params = model.params
        self._values: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._lock = threading.Lock()

    def value(self, question: str, response_prefix: str) -> tuple[float, int]:
        """V after ``response_prefix``, and the tokens read to get it (0 when cached)."""
        key = (question, response_prefix)
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key], 0
        hidden, processed = hidden_state_of(self.model, build_messages(question, self.system_prompt), response_prefix)
        if len(hidden) != len(self.head.weights):
            raise InvalidInputError(
                f"value head for '{self.head.model}' expects hidden size {len(self.head.weights)}; "
                f"'{self.model.name}' has {len(hidden)}")
        value = self.head.probability(hidden)
        with self._lock:
            self._values[key] = value
            while len(self._values) > self.CACHE:
                self._values.popitem(last=False)
        return value, processed

    def score(self, question: str, previous_steps: list[str], step: str,
              generation: Generation | None = None) -> RewardScore:
        prefix = "".join(previous_steps)
        before, read_before = self.value(question, prefix) if self.advantage else (0.0, 0)
        after, read_after = self.value(question, prefix + step)
        reward = min(1.0, max(0.0, 1.0 + after - before)) if self.advantage else after
        return RewardScore(reward, scored_tokens=read_before + read_after)


def load_head_reward(spec: Spec, load) -> ValueHeadReward:
    """``PATH_OR_NAME[?model=SPEC&force=true&advantage=true]``: the head, and the model it reads,
    which is the run's draft or target (as the head was trained) unless ``model`` names another."""
    body, options = spec.body, spec.options.check(("model", "force", "advantage"))
    _, head = find_head(body)
    if head.provenance.get("labels") == "question":
        raise InvalidInputError(f"'{body}' is a question head: it routes whole questions before solving "
                                f"(--route head:{body}?target_below=P), it does not score steps")
    if load is None:
        raise InvalidInputError(f"reward '{spec.text}' needs a model loader")
    model = load(options.text("model", head.read))
    force = options.flag("force")
    if model.name != head.model and not force:
        raise InvalidInputError(
            f"value head '{body}' was trained on '{head.model}' ({head.read}), but it would read "
            f"'{model.name}'; train one for this model with `rewardspec train-reward`, "
            f"or add ?force=true")
    advantage = bool(options.flag("advantage"))
    return ValueHeadReward(head, model, name=f"head:{body}" + ("?advantage=true" if advantage else ""),
                           advantage=advantage)
