"""The report page: a :class:`~rewardspec.eval.report.Run` as one self-contained HTML file.

Everything a model or a dataset wrote is untrusted, so every text goes through
:func:`html.escape` here, in Python, where a test can read the result; the page's script only
inserts these escaped fragments and never builds markup from text. A Content-Security-Policy
with a per-page nonce backs this up: the page loads nothing from the network, and a script
that escaped escaping would not run.

It must open fast on a 500-question run, so the page holds one short row per question and
each question's steps sit, as escaped HTML, in one JSON blob that the script inserts when
the question is first opened.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable
from html import escape
from importlib.resources import files
from typing import Any

from rewardspec.eval.records import SampleRecord
from rewardspec.eval.report import Question, Run
from rewardspec.types import Step

_ASSETS = files("rewardspec.eval") / "report_assets"
VERDICT_CHARS = {True: "R", False: "W", None: "-"}
"""A question's verdicts sit in its row as one character per method (``data-v``): the filter
reads them without touching anything else."""


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def _asset(name: str) -> str:
    return (_ASSETS / name).read_text(encoding="utf-8")


# -- numbers --------------------------------------------------------------------------
def _pct(x: Any) -> str:
    return f"{100 * x:.1f}%" if isinstance(x, (int, float)) else "–"


def _interval(ci: Any, scale: float = 100.0, fmt: str = "{:.1f}") -> str:
    """``[lo, hi]`` from a two-number list; nothing when a run did not record one."""
    if isinstance(ci, (list, tuple)) and len(ci) == 2 and all(isinstance(v, (int, float)) for v in ci):
        return f" <span class=ci>[{fmt.format(scale * ci[0])}, {fmt.format(scale * ci[1])}]</span>"
    return ""


def _sci(x: Any) -> str:
    return f"{x:.2e}" if isinstance(x, (int, float)) and x else "–"


def _num(x: Any, fmt: str = "{:.1f}") -> str:
    return fmt.format(x) if isinstance(x, (int, float)) else "–"


# -- summary, provenance, config ---------------------------------------------------------
def _vs_target(vs: Any) -> tuple[str, str]:
    """The accuracy difference (points) and FLOPs ratio against the target, with their intervals.
    Reads both layouts a summary may hold: ``difference``/``ci95`` and ``accuracy_difference``/
    ``accuracy_difference_ci95`` (with ``flops_ratio``)."""
    if not isinstance(vs, dict):
        return "–", "–"
    diff = vs.get("accuracy_difference", vs.get("difference"))
    ci = vs.get("accuracy_difference_ci95", vs.get("ci95"))
    accuracy = (f"{100 * diff:+.1f} pts" + _interval(ci, fmt="{:+.1f}")) if isinstance(diff, (int, float)) else "–"
    ratio = vs.get("flops_ratio")
    flops = (f"{ratio:.2f}×" + _interval(vs.get("flops_ratio_ci95"), 1, "{:.2f}")
             if isinstance(ratio, (int, float)) else "–")
    return accuracy, flops


def summary_table(methods: dict[str, Any]) -> str:
    """One row per method: accuracy with its 95% interval, the paired difference against the
    target where the run recorded it, cost and acceptance."""
    has_vs = any(isinstance(m, dict) and m.get("vs_target") for m in methods.values())
    head = ["method", "n", "accuracy [95% CI]"]
    if has_vs:
        head += ["vs target: accuracy [95% CI]", "vs target: FLOPs"]
    head += ["FLOPs/q", "draft acceptance", "no target step", "response tokens/q", "s/q", "finish reasons"]
    rows = []
    for name, m in methods.items():
        if not isinstance(m, dict):
            continue
        unit = m.get("draft_acceptance_unit")
        acceptance = _pct(m.get("draft_acceptance")) + (f" of {_e(unit)}" if unit else "")
        cells = [f"<th scope=row>{_e(name)}</th>", _e(m.get("n", "–")),
                 _pct(m.get("accuracy")) + _interval(m.get("accuracy_ci95"))]
        if has_vs:
            cells += list(_vs_target(m.get("vs_target")))
        reasons = m.get("finish_reasons") or {}
        cells += [_sci(m.get("flops_per_question")), acceptance, _pct(m.get("draft_only_fraction")),
                  _num(m.get("response_tokens_per_question"), "{:.0f}"), _num(m.get("wall_seconds_per_question")),
                  ", ".join(f"{_e(k)} {_e(v)}" for k, v in reasons.items()) or "–"]
        rows.append("<tr>" + "".join(c if c.startswith("<th") else f"<td>{c}</td>" for c in cells) + "</tr>")
    return ("<table class=summary><thead><tr>" + "".join(f"<th scope=col>{_e(h)}</th>" for h in head)
            + "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def _flatten(value: Any, prefix: str = "") -> Iterable[tuple[str, str]]:
    """Nested provenance or config as ``machine.cpu: ...`` lines, whatever keys a run recorded."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value):
        yield prefix, ", ".join(str(v) for v in value)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _flatten(v, f"{prefix}[{i}]")
    else:
        yield prefix, "–" if value is None else str(value)


def key_values(value: dict[str, Any], cls: str) -> str:
    return (f"<table class='kv {cls}'><tbody>"
            + "".join(f"<tr><th scope=row>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in _flatten(value))
            + "</tbody></table>")


def _plots(plots: dict[str, bytes]) -> str:
    return "".join(f"<figure><img alt='{_e(name)}' src='data:image/png;base64,{base64.b64encode(data).decode()}'>"
                   f"<figcaption>{_e(name)}</figcaption></figure>" for name, data in plots.items())


# -- questions -------------------------------------------------------------------------
def _reward(value: float | None) -> str:
    return "unscored" if value is None else f"reward {value:.2f}"


def step_html(number: int, step: Step) -> str:
    """One step, coloured by who wrote it; a rewrite shows the rejected draft struck through beside it."""
    text = f"<pre class=text>{_e(step.text)}</pre>"
    if step.rejected_draft is not None:
        r = step.rejected_draft
        why = "draft, rejected for looping" if r.degenerate else "draft, rejected"
        return (f"<li class='step rewrite'><div class=pair>"
                f"<div class=rejected><div class=meta>{number}. {why} · {_reward(r.reward)} · "
                f"{r.generated_tokens} tok</div><del class=text>{_e(r.text)}</del></div>"
                f"<div class=written><div class=meta>target rewrite · {_reward(step.reward)} · "
                f"{step.generated_tokens} tok</div>{text}</div></div></li>")
    if step.source == "draft":
        kind, label = ("accepted", "draft, accepted") if step.reward is not None else ("draft", "draft")
    else:
        kind, label = "target", "target"
    return (f"<li class='step {kind}'><div class=meta>{number}. {label} · {_reward(step.reward)} · "
            f"{step.generated_tokens} tok</div>{text}</li>")


def method_html(name: str, r: SampleRecord) -> str:
    """One method's answer to a question: verdict, answer, cost, then its steps (or its response)."""
    verdict = "right" if r.correct else "wrong"
    facts = [f"answer <code>{_e(r.answer)}</code>", f"finish {_e(r.finish_reason or '?')}",
             f"{r.response_tokens} response tokens", f"{_sci(r.flops)} FLOPs", f"{r.wall_seconds:.1f} s"]
    if r.delta is not None:
        facts.append(f"δ {r.delta:g}")
    if r.route is not None:
        facts.append(f"routed: {_e(r.route.route)}")
    body = ("<ol class=steps>" + "".join(step_html(i, s) for i, s in enumerate(r.steps, 1)) + "</ol>"
            if r.steps else f"<pre class='text response'>{_e(r.response)}</pre>")
    return (f"<section class='method {verdict}'><h4><span class=mname>{_e(name)}</span> "
            f"<span class='verdict {verdict}'>{verdict}</span> {' · '.join(facts)}</h4>{body}</section>")


def question_body(q: Question, methods: list[str]) -> str:
    """What opening a question shows; kept out of the DOM until then."""
    level = f" · level {_e(q.level)}" if q.level is not None else ""
    asked = f"<div class=qfull><pre class=text>{_e(q.question)}</pre><p>gold <code>{_e(q.gold)}</code>{level}</p></div>"
    parts = [asked]
    parts += [method_html(m, q.samples[m]) for m in methods if m in q.samples]
    return "".join(parts)


def question_row(index: int, q: Question, methods: list[str]) -> str:
    """The always-present row: id, a badge per method (verdict and answer), question, gold."""
    verdicts = "".join(VERDICT_CHARS[q.samples[m].correct if m in q.samples else None] for m in methods)
    badges = []
    for m in methods:
        r = q.samples.get(m)
        if r is None:
            badges.append(f"<span class='v none' title='{_e(m)}: no sample'>{_e(m)} –</span>")
            continue
        word, mark, cls = ("right", "✓", "R") if r.correct else ("wrong", "✗", "W")
        badges.append(f"<span class='v {cls}' title='{_e(m)}: {word}, answer {_e(r.answer)}'>{_e(m)} {mark} "
                      f"<b>{_e(r.answer)}</b></span>")
    return (f"<details class=q data-i='{index}' data-id='{_e(q.id)}' data-v='{verdicts}'>"
            f"<summary><span class=qid>#{_e(q.id)}</span><span class=verdicts>{''.join(badges)}</span>"
            f"<span class=qtext>{_e(q.question)}</span><span class=gold>gold <b>{_e(q.gold)}</b></span>"
            f"</summary><div class=q-body></div></details>")


def filters(methods: list[str], total: int) -> str:
    """Per-method verdict filters, "methods disagree", and a text search; the script keeps them
    and the address's #fragment in step, so a filtered view can be linked to."""
    selects = "".join(
        f"<label>{_e(m)} <select class=verdict-filter data-m='{i}' name='{_e(m)}'>"
        "<option value=any>any</option><option value=right>right</option><option value=wrong>wrong</option>"
        "</select></label>" for i, m in enumerate(methods))
    return (f"<form id=filters role=search>{selects}"
            "<label><input type=checkbox id=disagree> methods disagree</label>"
            "<input type=search id=search placeholder='search questions, answers, steps' aria-label=search>"
            "<button type=button id=reset>reset</button>"
            f"<output id=shown>{total} of {total} shown</output></form>")


LEGEND = ("<p class=legend><span class='step accepted'>draft step, accepted</span>"
          "<span class='step draft'>draft step, not judged</span><span class='step target'>target step</span>"
          "<span class='step rewrite'>target rewrite, <del>rejected draft</del> beside it</span></p>")


# -- the page --------------------------------------------------------------------------
def _json_for_script(value: Any) -> str:
    """JSON that cannot end its <script> element or open a comment: <, > and & as \\u escapes."""
    return (json.dumps(value, ensure_ascii=False, separators=(",", ":"))
            .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def _title(run: Run, n: int) -> str:
    config = run.summary.get("config") or {}
    dataset = config.get("dataset") if isinstance(config, dict) else None
    return f"{dataset or run.directory.name}: {n} questions"


def _summary_section(run: Run) -> str:
    note = ("<p class=note>This run has no summary.json (it did not finish): the figures below were "
            "computed from its samples.</p>" if run.summary_from_samples else "")
    sweep = run.summary.get("deltas")
    sweep_note = f"<p>δ sweep: {_e(', '.join(str(d) for d in sweep))}</p>" if isinstance(sweep, list) else ""
    table = summary_table(run.summary.get("methods") or {})
    return f"<section id=summary><h2>Summary</h2>{note}{sweep_note}{table}</section>"


def _provenance_section(run: Run) -> str:
    provenance, config = run.summary.get("provenance"), run.summary.get("config")
    recorded = (key_values(provenance, "provenance") if isinstance(provenance, dict)
                else "<p class=note>Not recorded: this run's summary.json predates provenance.</p>")
    settings = (f"<details><summary>config</summary>{key_values(config, 'config')}</details>"
                if isinstance(config, dict) and config else "")
    return f"<section id=provenance><h2>Provenance</h2>{recorded}{settings}</section>"


def _questions_section(questions: list[Question], methods: list[str]) -> str:
    rows = "".join(question_row(i, q, methods) for i, q in enumerate(questions))
    return (f"<section id=questions><h2>Questions</h2>{filters(methods, len(questions))}{LEGEND}"
            f"<div id=qlist>{rows}</div></section>")


def render(run: Run) -> str:
    """The whole page as one string: inline CSS and script, plots as data: URIs, nothing fetched."""
    methods = [m.name for m in run.methods]
    questions = run.questions
    title = _title(run, len(questions))
    header = (f"<header><h1>{_e(title)}</h1><p class=sub>rewardspec report of <code>{_e(run.directory)}</code>"
              f" · methods: {_e(', '.join(methods))}</p></header>")
    plots = f"<section id=plots><h2>Plots</h2>{_plots(run.plots)}</section>" if run.plots else ""
    body = (header + _summary_section(run) + _provenance_section(run) + plots
            + _questions_section(questions, methods))
    data = _json_for_script({"methods": methods, "bodies": [question_body(q, methods) for q in questions]})
    nonce = hashlib.sha256((body + data).encode()).hexdigest()[:24]
    parts = {"title": _e(f"{title} · rewardspec report"), "nonce": nonce,
             "css": _asset("report.css"), "js": _asset("report.js"), "body": body, "data": data}
    # One pass: a placeholder inside inserted text (a model may write "{{js}}") stays as written.
    return re.sub(r"\{\{(\w+)\}\}", lambda m: parts[m.group(1)], _asset("page.html"))
