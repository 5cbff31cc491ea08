"""Results are data: the files under docs/results, their pages, the README's table and the demo."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rewardspec import results
from rewardspec.demo import measured_text

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = {"draft": "qwen2.5-coder-0.5b", "target": "qwen2.5-coder-1.5b", "reward": "arithmetic*likelihood-min",
           "delta": 0.7, "rule": "binary", "max_tokens": 512}


def test_every_result_file_says_where_it_came_from_and_has_its_intervals():
    found = results.load()
    assert found, "docs/results holds no result"
    for r in found:
        d = r.data
        for key in ("title", "command", "n", "methods", "rerun", "config", "provenance"):
            assert key in d, (r.name, key)
        assert d["provenance"].get("date") and d["provenance"].get("machine"), r.name
        for method, figures in r.methods.items():
            accuracy = figures["accuracy"]
            lo, hi = accuracy["ci95"]
            assert lo <= accuracy["value"] <= hi, (r.name, method)
        if not d["rerun"]:
            assert "not rerun" in d["note"], r.name
        # The page beside it is rendered from it, not edited by hand.
        assert (results.RESULTS_DIR / f"{r.name}.md").read_text() == results.page(r), r.name


def test_the_readme_table_is_rendered_from_the_files():
    readme = (ROOT / "README.md").read_text()
    assert readme == results.render_readme(readme, results.load()), \
        "README's results table differs from docs/results: run python -m rewardspec.results render"


def test_the_lookahead_docs_table_is_rendered_from_the_files_and_no_figure_is_typed_beside_it():
    doc = (ROOT / "docs" / "lookahead.md").read_text()
    assert doc == results.render_lookahead_doc(doc, results.load()), \
        "docs/lookahead.md's results table differs from docs/results: run python -m rewardspec.results render"
    rows = results.lookahead_glance(results.load()).splitlines()[2:]
    assert len(rows) == sum(r.data.get("kind") == "lookahead" for r in results.load()) >= 1
    outside = re.sub(re.escape(results.LOOKAHEAD_BEGIN) + ".*?" + re.escape(results.LOOKAHEAD_END), "", doc, flags=re.S)
    prose = re.sub(r"```.*?```", "", outside, flags=re.S)
    figures = re.findall(r"\b\d+(?:\.\d+)?\s?(?:%|x\b|tok/s|tokens/s|s/q)", prose)
    assert not figures, f"figures typed into docs/lookahead.md: {figures[:10]}"


def test_the_readme_quotes_no_figure_outside_the_rendered_table():
    readme = (ROOT / "README.md").read_text()
    outside = re.sub(re.escape(results.BEGIN) + ".*?" + re.escape(results.END), "", readme, flags=re.S)
    prose = re.sub(r"```.*?```", "", outside, flags=re.S)  # commands and code may hold numbers
    figures = re.findall(r"\b\d+(?:\.\d+)?\s?(?:%|x\b|tok/s|tokens/s|s/q)", prose)
    assert not figures, f"figures typed into the README: {figures[:10]}"


def test_the_demo_quotes_only_what_was_measured_for_its_configuration():
    text = measured_text(DEFAULT)
    matching = [r for r in results.load() if r.matches(DEFAULT)]
    assert matching and all(r.title in text for r in matching)
    for r in matching:
        assert results.pct(r.methods["rsd"]["accuracy"]) in text
    other = measured_text({**DEFAULT, "reward": "likelihood"})
    assert other.startswith("No measurement") and "%" not in other and "reward likelihood" in other


def test_no_results_directory_is_said_plainly(tmp_path):
    assert "not here" in measured_text(DEFAULT, tmp_path / "missing")


def test_write_refuses_a_result_without_its_provenance(tmp_path):
    with pytest.raises(ValueError, match="provenance"):
        results.write("x", {"title": "t", "command": "c", "n": 1, "methods": {}, "rerun": True}, tmp_path)
    data = {"title": "t", "command": "c", "n": 3, "rerun": True, "provenance": {"date": "2026-12-06"},
            "methods": {"rsd": {"accuracy": results.figure(1 / 3, (0.06, 0.79))}}}
    path = results.write("x", data, tmp_path)
    assert json.loads(path.read_text()) == data and "33.3% [6.0, 79.0]" in (tmp_path / "x.md").read_text()
