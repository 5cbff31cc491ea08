"""A route before solving, composed from recorded runs: which run answers each question.

A question route (:mod:`rewardspec.methods.routing`) sends each question to the target, to
the draft or to RSD, from a question head's P(the draft solves it). Each question is solved
on its own and greedily, so a route's result is the recorded result of the run it picks;
comparing routes needs no new decoding.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from rewardspec.analysis.draft_target_line import Row, kept_share
from rewardspec.eval.records import SampleRecord
from rewardspec.types import flops_paper

RouteName = Literal["target", "rsd", "draft"]


def route(value: float, target_below: float, draft_above: float | None) -> RouteName:
    """The run a question goes to, as :class:`rewardspec.methods.routing.QuestionRouter` decides
    (a test holds the two equal)."""
    if value < target_below:
        return "target"
    if draft_above is not None and value >= draft_above:
        return "draft"
    return "rsd"


def routed(by_route: Mapping[str, Mapping[str, SampleRecord]], route_of: Mapping[str, str],
           read: Mapping[str, int] | None, params: float) -> Row:
    """What routing each question to the run ``route_of`` names gives, over the problems every run has.

    ``read`` holds the prompt tokens the head's read evaluated per question (None: no read, the
    oracle). The read costs the draft one scored token (ours); with prompts, a question the draft
    then writes pays no more (the read's prefill is the one its first draft step would make), one
    routed to the target pays the draft's whole prefill on top of the target's. ``params`` is the
    draft's. ``kept`` is the share of judged draft steps kept over the questions sent to RSD;
    ``routes`` counts the questions per run.
    """
    ids = [i for i in route_of if all(i in records for records in by_route.values())]
    if not ids:
        raise ValueError("no problem is in every run the routes pick from")
    n = len(ids)
    picked = [by_route[route_of[i]][i] for i in ids]
    ours = [0.0 if read is None else 2.0 * params for i in ids]
    prompt = [0.0 if read is None else 2.0 * params * (read[i] if route_of[i] == "target" else 1) for i in ids]
    return {"n": n, "accuracy": sum(r.correct for r in picked) / n,
            "flops": sum(r.flops + e for r, e in zip(picked, ours)) / n,
            "flops_with_prompt": sum(r.flops_with_prompt + e for r, e in zip(picked, prompt)) / n,
            "flops_paper": sum(flops_paper(r.usage) for r in picked) / n,
            "wall": sum(r.wall_seconds for r in picked),
            "kept": kept_share(picked),
            "routes": {name: sum(route_of[i] == name for i in ids) for name in by_route}}
