"""Every method streams the text it returns: one test per row of the methods table.

The unit half builds each solver through the composition root over scripted models and
checks that ``on_step`` sees exactly the steps ``solve`` returns. The live half serves every
method with the tiny real model and asks the same question with and without ``stream=True``
through the openai SDK. Both loop over ``METHODS``, so a new method cannot miss them.
"""

from __future__ import annotations

import pytest
from fakes import SeededModel

from rewardspec.build import Models, build_solver, solver_settings
from rewardspec.methods.base import DecodeConfig
from rewardspec.methods.table import METHODS

# Methods whose engine runs its own contexts from GGUF files: only the live half can build them.
NEEDS_GGUF = {"sd"}


@pytest.mark.parametrize("method", [m for m in METHODS if m not in NEEDS_GGUF])
def test_on_step_reports_exactly_the_steps_solve_returns(method):
    settings = solver_settings(reward="likelihood", n=3, width=2, beam_size=2)
    models = Models(settings, loader=lambda name: SeededModel(["3", "7", "5"]))
    solver = build_solver(method, settings, DecodeConfig(seed=1), models)
    reported = []
    trace = solver.solve("What is 2 + 5?", on_step=reported.append)
    assert trace.steps and reported == trace.steps, method
    assert "".join(s.text for s in reported) == trace.text


def test_the_unit_half_covers_every_row_but_the_gguf_engines():
    assert NEEDS_GGUF <= set(METHODS) and len(METHODS) - len(NEEDS_GGUF) >= 7


@pytest.mark.models
def test_every_method_streams_the_text_it_returns_unstreamed():
    import openai
    from test_serve import chat, serving

    with serving(methods=list(METHODS), n=2, width=2, beam_size=2, default_max_tokens=12) as running:
        client = running.client()
        for method in METHODS:
            asked = dict(model="rsd", messages=chat("What is 2 + 3?"), seed=3, extra_body={"method": method})
            whole = client.chat.completions.create(**asked).choices[0].message.content
            chunks = list(client.chat.completions.create(**asked, stream=True))
            streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            assert whole and streamed == whole, method
            # Each content chunk carries its step's provenance in the shared step layout.
            steps = [c.choices[0].model_extra["rsd"] for c in chunks
                     if c.choices and c.choices[0].delta.content]
            assert steps and all("generated_tokens" in s and "source" in s for s in steps), method
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(model="rsd", messages=chat("hi"), extra_body={"method": "nope"})
