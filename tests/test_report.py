"""`rewardspec report` without a browser: the page parsed with html.parser, and its errors.

The page must show every question with its verdicts, strike through each rejected draft
beside the target's rewrite, and show model text as text (never as markup), whatever it holds.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from html_tree import parse
from processes import assert_one_line_error, run_cli
from report_runs import METHODS, REJECTED, XSS, correct, page_and_bodies, question, write_run

from rewardspec.errors import InvalidInputError
from rewardspec.eval.report import load_run, method_name, write_report


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return write_run(tmp_path / "run", 8, {
        "provenance": {"rewardspec": "0.2.0", "commit": "abc1234", "date": "2025-01-02T03:04:05+00:00",
                       "machine": {"cpu": "Some CPU <x>", "isa": ["avx2", "fma"]},
                       "models": {"draft": {"spec": "smollm2-135m", "sha256": "f" * 64}}}})


def test_every_question_is_a_row_with_each_methods_verdict_and_answer(run_dir):
    page, _ = page_and_bodies(run_dir)
    rows = page.find_all("details", "q")
    assert [r.attrs["data-id"] for r in rows] == [str(i) for i in range(8)]
    for i, row in enumerate(rows):
        expected = "".join("R" if correct(m, i) else "W" for m in METHODS)
        assert row.attrs["data-v"] == expected
        badges = row.find_all("span", "v")
        assert [b.attrs["class"].split()[1] for b in badges] == list(expected)
        for m, badge in zip(METHODS, badges):
            answer = str(2 * i) if correct(m, i) else str(2 * i + 1)
            assert badge.text.startswith(m) and badge.find_all("b")[0].text == answer
        assert row.find_all("span", "qtext")[0].text == question(i)  # shown as written: <b> is text
        assert row.find_all("span", "gold")[0].text == f"gold {2 * i}"
        assert row.find_all("div", "q-body")[0].children == []  # filled when opened, not up front


def test_rsd_steps_are_coloured_by_writer_with_each_rejected_draft_struck_through(run_dir):
    _, bodies = page_and_bodies(run_dir)
    body = bodies[1]
    [rsd, target, draft] = body.find_all("section", "method")
    assert [s.attrs["class"] for s in (rsd, target, draft)] == ["method wrong"] * 3
    steps = rsd.find_all("li", "step")
    assert [s.attrs["class"].split()[1] for s in steps] == ["accepted", "rewrite", "rewrite", "draft"]
    assert "reward 0.91" in steps[0].text and "7 tok" in steps[0].text
    [struck] = steps[1].find_all("del")
    assert struck.text == REJECTED
    assert "draft, rejected · reward 0.12 · 8 tok" in steps[1].find_all("div", "rejected")[0].text
    assert steps[1].find_all("div", "written")[0].find_all("pre")[0].text == "That makes 2.\n\n"
    assert "rejected for looping · unscored · 64 tok" in steps[2].text
    assert [s.attrs["class"].split()[1] for s in target.find_all("li", "step")] == ["target", "target"]
    assert body.find_all("div", "qfull")[0].find_all("pre")[0].text == question(1)
    assert "wrong" in rsd.find_all("h4")[0].text and "answer 3" in rsd.find_all("h4")[0].text


def test_model_text_that_holds_markup_stays_text(run_dir):
    page, bodies = page_and_bodies(run_dir)
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert XSS not in html and "<b>bold</b>" not in html
    scripts = page.find_all("script")
    assert len(scripts) == 2 and not page.find_all("img", None)[2:]  # the plot's img only
    assert [i.attrs["alt"] for i in page.find_all("img")] == ["accuracy_vs_flops.png"]
    first = bodies[0]
    assert not first.find_all("script") and not first.find_all("img")
    assert XSS in first.find_all("li", "step")[0].text  # shown as text, whole
    # Self-contained: nothing the page would fetch, the plot inline.
    assert all(i.attrs["src"].startswith("data:image/png;base64,") for i in page.find_all("img"))
    assert not page.find_all("link") and all("src" not in s.attrs for s in scripts)
    csp = [m for m in page.find_all("meta") if m.attrs.get("http-equiv") == "Content-Security-Policy"][0]
    nonce = scripts[1].attrs["nonce"]
    assert f"script-src 'nonce-{nonce}'" in csp.attrs["content"] and "default-src 'none'" in csp.attrs["content"]


def test_summary_intervals_and_provenance_show_what_the_run_recorded(run_dir):
    summary = json.loads((run_dir / "summary.json").read_text())
    summary["methods"]["rsd"]["accuracy_ci95"] = [0.41, 0.82]
    summary["methods"]["rsd"]["vs_target"] = {"difference": 0.125, "ci95": [-0.25, 0.5]}
    summary["methods"]["draft"]["vs_target"] = {"accuracy_difference": -0.25, "accuracy_difference_ci95": [-0.5, 0.0],
                                                "flops_ratio": 0.5, "flops_ratio_ci95": [0.4, 0.6]}
    (run_dir / "summary.json").write_text(json.dumps(summary))
    page, _ = page_and_bodies(run_dir)
    table = page.find_all("table", "summary")[0]
    rows = {r.find_all("th")[0].text: [td.text for td in r.find_all("td")] for r in table.find_all("tbody")[0].find_all("tr")}
    assert rows["rsd"][1] == f"{100 * summary['methods']['rsd']['accuracy']:.1f}% [41.0, 82.0]"
    assert rows["rsd"][2] == "+12.5 pts [-25.0, +50.0]"
    assert rows["draft"][2:4] == ["-25.0 pts [-50.0, +0.0]", "0.50× [0.40, 0.60]"]
    assert rows["target"][2] == "–"
    provenance = {r.find_all("th")[0].text: r.find_all("td")[0].text
                  for r in page.find_all("table", "provenance")[0].find_all("tr")}
    assert provenance["commit"] == "abc1234" and provenance["machine.cpu"] == "Some CPU <x>"
    assert provenance["machine.isa"] == "avx2, fma" and provenance["models.draft.sha256"] == "f" * 64


def test_an_older_run_without_intervals_or_provenance_or_summary_still_renders(tmp_path):
    old = write_run(tmp_path / "old", 3)
    page, _ = page_and_bodies(old)
    heads = [th.text for th in page.find_all("table", "summary")[0].find_all("thead")[0].find_all("th")]
    assert heads[2] == "accuracy [95% CI]" and not any(h.startswith("vs target") for h in heads)
    assert "predates provenance" in page.find_all("section")[1].text
    interrupted = write_run(tmp_path / "interrupted", 3, with_summary=False)
    with (interrupted / "samples-rsd.jsonl").open("a") as fh:
        fh.write('{"id": "3", "method": "rs')  # the line a running eval is writing
    before = (interrupted / "samples-rsd.jsonl").read_bytes()
    run = load_run(interrupted)
    assert run.summary_from_samples and [m.name for m in run.methods] == list(METHODS)
    assert [q.id for q in run.questions] == ["0", "1", "2"]
    assert (interrupted / "samples-rsd.jsonl").read_bytes() == before  # a report never writes into a run
    page, _ = page_and_bodies(interrupted)
    assert "no summary.json" in page.find_all("section")[0].text


def test_sweep_files_are_named_as_the_summary_names_them():
    assert method_name(Path("samples-rsd-delta0.7.jsonl")) == "rsd@0.7"
    assert method_name(Path("samples-best_of_n.jsonl")) == "best_of_n"


def test_a_sweep_shows_each_delta_as_a_method_and_both_plots(tmp_path):
    from rewardspec.eval.metrics import summarize
    from rewardspec.eval.plots import sweep_plot

    run = write_run(tmp_path / "sweep", 4)
    rsd = (run / "samples-rsd.jsonl").read_text()
    for delta in ("0.5", "1"):
        (run / f"samples-rsd-delta{delta}.jsonl").write_text(rsd)
    (run / "samples-rsd.jsonl").unlink()
    summary = json.loads((run / "summary.json").read_text())
    methods = summary["methods"]
    summary["methods"] = {"target": methods["target"], "draft": methods["draft"], "rsd@0.5": methods["rsd"],
                          "rsd@1": methods["rsd"]}
    summary["deltas"] = [0.5, 1.0]
    (run / "summary.json").write_text(json.dumps(summary))
    records = load_run(run).methods
    sweep_plot([0.5, 1.0], [summarize(records[2].records)] * 2, {m.name: summarize(m.records) for m in records[:2]},
               run / "sweep.png", "fake sweep")
    path, _ = write_report(run)
    page = parse(path.read_text(encoding="utf-8"))
    assert [s.attrs["name"] for s in page.find_all("select")] == ["target", "draft", "rsd@0.5", "rsd@1"]
    assert [i.attrs["alt"] for i in page.find_all("img")] == ["accuracy_vs_flops.png", "sweep.png"]
    assert "δ sweep: 0.5, 1.0" in page.find_all("section")[0].text
    assert page.find_all("details", "q")[1].attrs["data-v"] == "WWWW"


def test_the_command_writes_where_it_says(run_dir, tmp_path):
    out = tmp_path / "elsewhere" / "r.html"
    proc = run_cli(["report", str(run_dir), "--output", str(out)])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"wrote {out}: 8 questions, methods rsd, target, draft"
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_a_bad_run_dir_is_one_line(tmp_path):
    assert_one_line_error(run_cli(["report", str(tmp_path / "missing")]), "does not exist")
    assert_one_line_error(run_cli(["report", str(tmp_path)]), "is not a run directory", "samples-*.jsonl")
    (tmp_path / "samples-rsd.jsonl").write_text("")
    assert_one_line_error(run_cli(["report", str(tmp_path)]), "holds no samples")
    (tmp_path / "samples-rsd.jsonl").write_text("not json\n{}\n")
    assert_one_line_error(run_cli(["report", str(tmp_path)]), "samples-rsd.jsonl:1 is not a sample record")
    (tmp_path / "samples-rsd.jsonl").unlink()
    (tmp_path / "summary.json").write_text("{")
    assert_one_line_error(run_cli(["report", str(tmp_path)]), "summary.json is not valid JSON")
    with pytest.raises(InvalidInputError, match="is not a directory"):
        load_run(tmp_path / "summary.json")
