"""What the live server tests share: RSD over a server against RSD in-process, on the embedded
SmolLM2-135M GGUF, greedy, the same questions."""

from __future__ import annotations

from rewardspec.build import Models, build_solver, solver_settings
from rewardspec.methods.base import DecodeConfig

QUESTIONS = ["Tom has 3 apples and buys 4 more. How many apples does he have?",
             "A pen costs $2. How much do 5 pens cost?"]


def assert_rsd_over_http_writes_what_in_process_writes(remote: str, reward: str) -> None:
    """The same steps, sources, token counts and answers with every role at ``remote`` (a spec,
    ``openai:tiny@URL…``) as with every role in-process. δ 0.75 sits away from every reward seen
    here, and both accepting and rejecting must happen."""
    decode = DecodeConfig(max_tokens=96, max_steps=6)
    traces = {}
    for where, spec in (("local", "tiny"), ("http", remote)):
        settings = solver_settings(draft=spec, target=spec, reward=reward, delta=0.75)
        solver = build_solver("rsd", settings, decode, Models(settings))
        traces[where] = [solver.solve(q) for q in QUESTIONS]
    for local, http in zip(traces["local"], traces["http"]):
        assert [(s.text, s.source) for s in http.steps] == [(s.text, s.source) for s in local.steps]
        assert http.text == local.text and http.finish_reason == local.finish_reason
        assert [s.generated_tokens for s in http.steps] == [s.generated_tokens for s in local.steps]
    sources = {s.source for t in traces["http"] for s in t.steps}
    assert sources == {"draft", "target"}, "δ should make RSD both accept and reject here"
