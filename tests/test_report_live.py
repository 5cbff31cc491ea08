"""`rewardspec eval` on three questions with the tiny real model, then `rewardspec report` on the
run, rendered in headless Chromium with its filters working (the browser part is skipped, saying
why, where Chromium is not installed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from chromium import Browser, assert_not_blank, chromium_path, visible_ids
from report_runs import page_and_bodies

from rewardspec.eval.report import load_run

pytestmark = pytest.mark.models

QUESTIONS = [("What is 2 + 3?", "5"), ("Tom has 4 apples and eats 1. How many are left?", "3"),
             ("What is 6 times 7?", "42")]


def rewardspec(*args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "rewardspec", *args], capture_output=True, text=True,
                          timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("live-report")
    (tmp / "data").mkdir()
    (tmp / "data" / "gsm8k.jsonl").write_text("".join(
        json.dumps({"question": q, "answer": f"Work it out.\n#### {a}"}) + "\n" for q, a in QUESTIONS))
    rewardspec("eval", "--dataset", "gsm8k", "--data-dir", str(tmp / "data"), "--draft", "smollm2-135m",
               "--target", "smollm2-135m", "--reward", "likelihood", "--methods", "rsd,target,draft",
               "--max-tokens", "24", "--output", str(tmp / "run"))
    proc = rewardspec("report", str(tmp / "run"))
    assert proc.stdout.strip() == f"wrote {tmp / 'run' / 'report.html'}: 3 questions, methods rsd, target, draft"
    return tmp / "run"


def test_the_report_of_a_real_eval_shows_each_question_and_rsds_steps(run_dir):
    run = load_run(run_dir)
    page, bodies = page_and_bodies(run_dir)
    rows = page.find_all("details", "q")
    assert [r.find_all("span", "qtext")[0].text for r in rows] == [q for q, _ in QUESTIONS]
    for row, body, q in zip(rows, bodies, run.questions):
        assert row.attrs["data-v"] == "".join("R" if q.samples[m].correct else "W" for m in ("rsd", "target", "draft"))
        rsd = q.samples["rsd"]
        steps = body.find_all("section", "method")[0].find_all("li", "step")
        assert len(steps) == len(rsd.steps)
        struck = [d.text for s in steps for d in s.find_all("del")]
        assert struck == [s.rejected_draft.text for s in rsd.steps if s.rejected_draft is not None]


def test_a_real_evals_report_renders_in_chromium_with_the_filter_working(run_dir, tmp_path):
    if chromium_path() is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium); the HTML itself is "
                    "checked by the test above")
    questions = load_run(run_dir).questions
    with Browser(tmp_path / "chromium") as browser:
        browser.open((run_dir / "report.html").resolve().as_uri())
        assert visible_ids(browser) == [q.id for q in questions]
        assert_not_blank(browser.screenshot(), 1280, 900)
        for verdict in ("right", "wrong"):
            browser.js(f"(() => {{ const s = document.querySelector('select[name=\"rsd\"]'); s.value = '{verdict}'; "
                       "s.dispatchEvent(new Event('change')); })()")
            assert visible_ids(browser) == [q.id for q in questions if q.samples["rsd"].correct == (verdict == "right")]
        browser.open((run_dir / "report.html").resolve().as_uri() + "#rsd=wrong&target=right")
        assert visible_ids(browser) == [q.id for q in questions
                                        if not q.samples["rsd"].correct and q.samples["target"].correct]
        browser.click("#reset")
        assert visible_ids(browser) == [q.id for q in questions]
        browser.click(f"details.q[data-id='{questions[0].id}'] > summary")
        shown = browser.wait_for("document.querySelectorAll('details.q[open] li.step').length")
        assert shown == sum(len(q.steps) for q in questions[0].samples.values())
        assert browser.errors() == []
