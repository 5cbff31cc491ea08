"""The RSD settings a comparison runs, written ``NAME=REWARD@DELTA[/RULE][+K];…`` on one line.

One line on the command line names every candidate (reward, δ, acceptance rule and
escalation) so that a comparison is one command; a mistyped candidate stops the run before
any model loads, with the grammar in the message.
"""

from __future__ import annotations

from typing import NamedTuple


class Candidate(NamedTuple):
    """One RSD setting: the reward spec, δ, the acceptance rule and ``escalate_after``."""

    reward: str
    delta: float
    rule: str
    escalate_after: int

    def describe(self) -> str:
        """``REWARD @ δ[ /RULE][ +K]``, leaving out the defaults (binary rule, no escalation)."""
        return (f"{self.reward} @ {self.delta:g}" + ("" if self.rule == "binary" else f" /{self.rule}")
                + (f" +{self.escalate_after}" if self.escalate_after else ""))


def parse_candidates(text: str) -> dict[str, Candidate]:
    """``name=REWARD@DELTA[/RULE][+K];…`` -> {name: Candidate}; ``+K`` escalates after K rejections.

    The reward is everything before the last ``@`` (a spec may hold ``@`` itself, for URLs).
    """
    out: dict[str, Candidate] = {}
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        name, _, rest = part.partition("=")
        reward, _, tail = rest.rpartition("@")
        tail, _, escalate = tail.partition("+")
        delta, _, rule = tail.partition("/")
        try:
            parsed = Candidate(reward.strip(), float(delta), rule.strip() or "binary", int(escalate or 0))
        except ValueError:
            parsed = None
        if not name or not reward or parsed is None:
            raise SystemExit(f"bad candidate {part!r}: write NAME=REWARD@DELTA[/RULE][+K]")
        out[name.strip()] = parsed
    return out
