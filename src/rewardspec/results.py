"""Results as data: files under docs/results/ that benchmarks write and every document quotes.

A result is ``docs/results/NAME.json``: what was measured (dataset, problems, n, the
configuration), how (the command), by what code and where (provenance: version, commit,
machine, date, model sha256s), and each method's figures, each with its 95% interval.
Beside it, ``NAME.md`` is rendered from it, and the README's "Results at a glance" table
is rendered from all of them (``python -m rewardspec.results render``), so no figure is
typed by hand and a test can hold the README to the files. A result that was not rerun
says so (``rerun: false``) and keeps the machine and date it was measured on.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parents[2] / "docs" / "results"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
LOOKAHEAD_BEGIN, LOOKAHEAD_END = "<!-- lookahead-results:begin -->", "<!-- lookahead-results:end -->"
LOOKAHEAD_DOC = "lookahead.md"
"""docs/lookahead.md, whose table of rewrite-reuse results is rendered from the files."""
#: The configuration keys a result is matched on (the demo finds a result for what it runs).
CONFIG_KEYS = ("draft", "target", "reward", "delta", "rule", "max_tokens")


@dataclass(frozen=True)
class Result:
    name: str
    data: dict[str, Any]

    @property
    def title(self) -> str:
        return self.data["title"]

    @property
    def methods(self) -> dict[str, dict[str, Any]]:
        return self.data["methods"]

    def matches(self, config: dict[str, Any]) -> bool:
        """Whether this result measured ``config`` (every key the result records must agree)."""
        mine = self.data.get("config", {})
        return all(mine.get(k) == config.get(k) for k in CONFIG_KEYS if k in mine or k in config)


def figure(value: float | None, ci95: Iterable[float] | None = None) -> dict[str, Any]:
    return {"value": value, "ci95": None if ci95 is None else [float(x) for x in ci95]}


def load(directory: Path = RESULTS_DIR) -> list[Result]:
    """Every result in ``directory``, by name."""
    if not directory.is_dir():
        return []
    return [Result(p.stem, json.loads(p.read_text())) for p in sorted(directory.glob("*.json"))]


def write(name: str, data: dict[str, Any], directory: Path = RESULTS_DIR) -> Path:
    """Write a result and its rendered page; what a benchmark calls once it has its figures."""
    for key in ("title", "command", "provenance", "n", "methods", "rerun"):
        if key not in data:
            raise ValueError(f"result '{name}' lacks '{key}'")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    (directory / f"{name}.md").write_text(page(Result(name, data)))
    return path


# -- rendering -------------------------------------------------------------------------
def pct(f: dict[str, Any] | None) -> str:
    """``37.0% [27.6, 47.2]`` from a fraction figure."""
    if not f or f.get("value") is None:
        return "-"
    ci = f.get("ci95")
    return f"{100 * f['value']:.1f}%" + (f" [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]" if ci else "")


def points(f: dict[str, Any] | None) -> str:
    """``+2.0 [-6.0, +10.0]`` points from a difference of fractions."""
    if not f or f.get("value") is None:
        return "-"
    ci = f.get("ci95")
    return f"{100 * f['value']:+.1f}" + (f" [{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]" if ci else "")


def ratio(f: dict[str, Any] | None) -> str:
    """``0.54x [0.50, 0.58]``."""
    if not f or f.get("value") is None:
        return "-"
    ci = f.get("ci95")
    return f"{f['value']:.2f}x" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")


def page(result: Result) -> str:
    """The markdown page beside a result file."""
    d, prov = result.data, result.data["provenance"]
    machine = prov.get("machine", {})
    lines = [f"# {d['title']}", "",
             f"*Rendered from [{result.name}.json]({result.name}.json) by `python -m rewardspec.results render`;"
             " do not edit.*", ""]
    if not d["rerun"]:
        lines += [f"**Not rerun**: {d.get('note', 'figures carried over from an earlier record')}", ""]
    elif d.get("note"):
        lines += [d["note"], ""]
    lines += (_lookahead_tables(d) if d.get("kind") == "lookahead" else _eval_table(result))
    models = prov.get("models") or {}
    lines += ["", f"- **n**: {d['n']} ({d.get('dataset', '?')}, problems {d.get('problems', '?')})",
              f"- **command**: `{d['command']}`",
              "- **configuration**: " + ", ".join(f"{k} {v}" for k, v in d.get("config", {}).items()),
              f"- **code**: rewardspec {prov.get('rewardspec')}, commit {prov.get('commit') or 'unknown'}",
              f"- **machine**: {machine.get('cpu') or 'unknown CPU'}, {machine.get('cores', '?')} cores, "
              f"{' '.join(machine.get('isa', [])) or 'instruction sets not recorded'}",
              f"- **date**: {prov.get('date')}"]
    lines += [f"- **{role}**: {w.get('name') or w.get('spec')} (sha256 {w.get('sha256') or 'unknown'})"
              for role, w in models.items()]
    against = "the configuration named" if d.get("kind") == "lookahead" else "the target"
    lines += ["", "Intervals: Wilson's for an accuracy or a share of problems; paired bootstrap over the same "
              f"problems for a difference or ratio against {against} (none where only totals were recorded)."]
    return "\n".join(lines) + "\n"


def _eval_table(result: Result) -> list[str]:
    lines = ["| method | accuracy [95% CI] | vs target, points [95% CI] | FLOPs ÷ target [95% CI] "
             "| wall ÷ target [95% CI] | draft acceptance |", "|---|---|---|---|---|---|"]
    for method, m in result.methods.items():
        lines.append(f"| {method} | {pct(m.get('accuracy'))} | {points(m.get('accuracy_vs_target'))} "
                     f"| {ratio(m.get('flops_vs_target'))} | {ratio(m.get('wall_vs_target'))} "
                     f"| {pct(m.get('draft_acceptance'))} |")
    return lines


def _lookahead_tables(d: dict[str, Any]) -> list[str]:
    """benchmarks/lookahead.py's result: configurations side by side, the pass-cost curve it
    measured, and the replay under that curve and an assumed one (simulated, apart)."""
    lines = ["| configuration | accuracy [95% CI] | same text as without proposals | wall ÷ (against) "
             "| target seconds ÷ plain RSD | draft seconds ÷ plain RSD | rewrite tokens kept "
             "| draft tokens from lookup | target tokens from lookup |", "|---|---|---|---|---|---|---|---|---|"]
    for name, m in d["methods"].items():
        wall = m.get("wall_vs")
        lines.append(f"| {name} | {pct(m.get('accuracy'))} | {pct(m.get('same_text'))} "
                     f"| {ratio(wall) + ' (' + wall['against'] + ')' if wall else '-'} "
                     f"| {ratio(m.get('target_seconds_vs_rsd'))} | {ratio(m.get('draft_seconds_vs_rsd'))} "
                     f"| {pct(m.get('rewrite_kept_share'))} | {pct(m.get('draft_lookup_kept_share'))} "
                     f"| {pct(m.get('target_lookup_kept_share'))} |")
    costs = d.get("pass_cost") or {}
    if costs:
        sizes = [k for k in next(iter(costs.values())) if k != "decode_ms"]
        lines += ["", "**Measured**: a pass over k tokens, in single-token decode passes "
                  "(medians; one decode pass in ms in the last column):", "",
                  "| model | " + " | ".join(f"k={k}" for k in sizes) + " | decode ms |",
                  "|---|" + "---|" * (len(sizes) + 1)]
        for role, c in costs.items():
            lines.append(f"| {role} | " + " | ".join(f"{c[k]:.2f}" for k in sizes) + f" | {c['decode_ms']:.1f} |")
    for label, sim in (d.get("simulated") or {}).items():
        lines += ["", f"**Simulated** (plain RSD's answers replayed with proposals), {label}: the target's rewrite "
                  f"decode {ratio(sim.get('target_rewrite_decode'))} of its passes, with "
                  f"{pct(sim.get('rewrite_kept_share'))} of rewrite tokens kept; the draft's decode with prompt "
                  f"lookup {ratio(sim.get('draft_decode_with_lookup'))}, with "
                  f"{pct(sim.get('draft_lookup_kept_share'))} of its tokens from lookup."]
    return lines


def glance(results: list[Result]) -> str:
    """The README's "Results at a glance" table: RSD against the target and the draft, per result."""
    rows = ["| result | n | RSD accuracy | target | draft | RSD vs target, points | RSD FLOPs ÷ target "
            "| measured |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        if r.data.get("kind", "eval") != "eval":
            continue  # other kinds of result (benchmarks/lookahead.py) are linked from their docs
        m, prov = r.methods, r.data["provenance"]
        rsd = m.get("rsd", {})
        when = (prov.get("date") or "")[:10] + ("" if r.data["rerun"] else ", not rerun")
        rows.append(f"| [{r.title}](docs/results/{r.name}.md) | {r.data['n']} | {pct(rsd.get('accuracy'))} "
                    f"| {pct(m.get('target', {}).get('accuracy'))} | {pct(m.get('draft', {}).get('accuracy'))} "
                    f"| {points(rsd.get('accuracy_vs_target'))} | {ratio(rsd.get('flops_vs_target'))} | {when} |")
    return "\n".join(rows)


def lookahead_glance(results: list[Result]) -> str:
    """docs/lookahead.md's table: per benchmarks/lookahead.py result, RSD's wall time against the
    target's without proposals, with rewrite reuse, and with reuse and prompt lookup."""
    rows = ["| result | n | target accuracy | RSD accuracy | RSD wall ÷ target | + rewrite reuse "
            "| + reuse and lookup (÷ target with lookup) | rewrite tokens kept | measured |",
            "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        if r.data.get("kind") != "lookahead":
            continue
        m, when = r.methods, (r.data["provenance"].get("date") or "")[:10]
        wall = lambda name: ratio(m.get(name, {}).get("wall_vs"))  # noqa: E731
        rows.append(f"| [{r.title}](results/{r.name}.md) | {r.data['n']} | {pct(m.get('target', {}).get('accuracy'))} "
                    f"| {pct(m.get('rsd', {}).get('accuracy'))} | {wall('rsd')} | {wall('rsd+reuse')} "
                    f"| {wall('rsd+reuse+lookup')} | {pct(m.get('rsd+reuse', {}).get('rewrite_kept_share'))} | {when} |")
    return "\n".join(rows)


def render_block(text: str, table: str, begin: str = BEGIN, end: str = END, what: str = "the README") -> str:
    """``text`` with the table between the markers replaced by ``table``."""
    if begin not in text or end not in text:
        raise ValueError(f"{what} has no {begin} ... {end} block for its results table")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}\n{table}\n{end}{tail}"


def render_readme(text: str, results: list[Result]) -> str:
    """``text`` with the table between the markers rendered from ``results``."""
    return render_block(text, glance(results))


def render_lookahead_doc(text: str, results: list[Result]) -> str:
    return render_block(text, lookahead_glance(results), LOOKAHEAD_BEGIN, LOOKAHEAD_END, f"docs/{LOOKAHEAD_DOC}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rewardspec.results",
                                     description="Render docs/results/*.md and the README's results table.")
    parser.add_argument("command", choices=["render"])
    parser.add_argument("--dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--readme", type=Path, default=RESULTS_DIR.parents[1] / "README.md")
    args = parser.parse_args(argv)
    results = load(args.dir)
    for r in results:
        (args.dir / f"{r.name}.md").write_text(page(r))
    args.readme.write_text(render_readme(args.readme.read_text(), results))
    doc = args.readme.parent / "docs" / LOOKAHEAD_DOC
    if doc.is_file():
        doc.write_text(render_lookahead_doc(doc.read_text(), results))
    print(f"rendered {len(results)} results into {args.dir}/, {args.readme} and {doc}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
