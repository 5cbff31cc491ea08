"""Prompts. The paper evaluates with Qwen2.5-Math's ``qwen25-math-cot`` format."""

from __future__ import annotations

from rewardspec.models.base import Message

QWEN_MATH_COT_SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."


def build_messages(question: str, system: str | None = QWEN_MATH_COT_SYSTEM) -> list[Message]:
    """The chat that every model in a request sees; each applies its own template."""
    messages: list[Message] = []
    if system:
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": question})
    return messages


MULTIPLE_CHOICE_INSTRUCTION = (
    "Answer with the letter of the correct option, and put that letter within \\boxed{}."
)
#: The eval config's ``prompt``: the system prompt every model of a run is sent. "none" sends the
#: question alone (for models whose template brings its own instructions).
SYSTEM_PROMPTS: dict[str, str | None] = {"qwen25-math-cot": QWEN_MATH_COT_SYSTEM, "none": None}
PROMPTS = tuple(SYSTEM_PROMPTS)


def format_question(question: str, choices: list[str] | None = None) -> str:
    """The user turn: the problem, with lettered options for multiple choice."""
    if not choices:
        return question
    options = "\n".join(f"{'ABCDEFGHIJ'[i]}. {c}" for i, c in enumerate(choices))
    return f"{question}\n\n{options}\n\n{MULTIPLE_CHOICE_INSTRUCTION}"


def plain_prompt(messages: list[Message]) -> str:
    """A prompt for models without a chat template (base models)."""
    parts = [m["content"].strip() for m in messages if m.get("content")]
    return "\n\n".join(parts) + "\n\n"
