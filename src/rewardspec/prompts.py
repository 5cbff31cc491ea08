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
PROMPTS = ("qwen25-math-cot",)


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
