"""Evaluation harness logic: datasets, resume, metrics, summaries and plots (no models)."""

import json
from dataclasses import asdict

import pytest
from fakes import QueueReward, ScriptedModel
from rich.console import Console

from rewardspec.errors import InvalidInputError
from rewardspec.eval import runner
from rewardspec.eval.datasets import load_dataset
from rewardspec.eval.metrics import summarize
from rewardspec.eval.records import SampleRecord
from rewardspec.methods.rsd import RSD
from rewardspec.types import DecodeStats, Lookahead, ModelUsage, RejectedDraft, Step

DATA = [
    {"question": f"What is {i} + {i}?", "answer": f"Add them.\n#### {2 * i}", "idx": str(i)} for i in range(6)
]


@pytest.fixture
def gsm(tmp_path):
    path = tmp_path / "data" / "gsm8k.jsonl"
    path.parent.mkdir()
    path.write_text("".join(json.dumps(r) + "\n" for r in DATA))
    return path


class EchoSolver:
    """Answers 2*i correctly for even i, wrongly for odd i; can be told to crash."""

    def __init__(self, crash_at=None):
        self.crash_at, self.calls = crash_at, 0

    def solve(self, question):
        self.calls += 1
        if self.crash_at is not None and self.calls == self.crash_at:
            raise KeyboardInterrupt
        i = int(question.split()[2])
        answer = 2 * i if i % 2 == 0 else 2 * i + 1
        draft = ScriptedModel("d", [f"So the sum is \\boxed{{{answer}}}"], params=10)
        target = ScriptedModel("t", ["x"], params=100)
        return RSD(draft=draft, target=target, reward=QueueReward([0.9]), method="rsd").solve(question)


def test_load_by_name_from_data_dir_and_by_path(gsm):
    by_name = load_dataset("gsm8k", data_directory=gsm.parent, limit=4)
    assert [e.gold for e in by_name] == ["0", "2", "4", "6"] and by_name[1].id == "1"
    by_path = load_dataset(str(gsm))
    assert len(by_path) == 6 and by_path[0].question.startswith("What is 0")


def test_custom_fields_and_clear_errors(tmp_path):
    path = tmp_path / "mine.jsonl"
    path.write_text(json.dumps({"q": "1+1?", "a": "2"}) + "\n")
    assert load_dataset(str(path), question_field="q", answer_field="a")[0].gold == "2"
    with pytest.raises(InvalidInputError, match="no field 'question'"):
        load_dataset(str(path))
    with pytest.raises(InvalidInputError, match="unknown dataset"):
        load_dataset("imagenet")
    with pytest.raises(InvalidInputError, match="does not exist"):
        load_dataset(str(tmp_path / "missing.jsonl"))


def test_levels_choose_math_problems_before_the_limit(tmp_path):
    levels = [5, 1, "Level 3", 2, 4, 3, "Level ?"]
    rows = [{"problem": f"P{i}?", "answer": str(i), "level": lv, "unique_id": f"test/x/{i}.json"}
            for i, lv in enumerate(levels)]
    (tmp_path / "math500.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    chosen = load_dataset("math500", data_directory=tmp_path, levels="1-3")
    assert [e.id for e in chosen] == ["test/x/1.json", "test/x/2.json", "test/x/3.json", "test/x/5.json"]
    assert [e.gold for e in load_dataset("math500", data_directory=tmp_path, levels="1-3", limit=2)] == ["1", "2"]
    assert [e.gold for e in load_dataset("math500", data_directory=tmp_path, levels="4,5")] == ["0", "4"]
    with pytest.raises(InvalidInputError, match="no problem of level 6"):
        load_dataset("math500", data_directory=tmp_path, levels="6")
    with pytest.raises(InvalidInputError, match="bad levels"):
        load_dataset("math500", data_directory=tmp_path, levels="easy")
    gsm = tmp_path / "gsm8k.jsonl"
    gsm.write_text(json.dumps({"question": "1+1?", "answer": "#### 2"}) + "\n")
    with pytest.raises(InvalidInputError, match="no 'level' field"):
        load_dataset(str(gsm), levels="1")


def test_multiple_choice_rows_get_letters(tmp_path):
    path = tmp_path / "mmlu_stem.jsonl"
    row = {"question": "Which is a noble gas?", "choices": "['Oxygen', 'Neon', 'Iron', 'Salt']", "answer": "1"}
    path.write_text(json.dumps(row) + "\n")
    ex = load_dataset(str(path))[0]
    assert ex.gold == "B" and ex.choices == ["Oxygen", "Neon", "Iron", "Salt"]


def test_gpqa_hub_rows_are_shuffled_with_the_gold_letter_following_the_answer(tmp_path):
    rows = [{"Question": f"Q{i}?", "Correct Answer": f"right {i}", "Incorrect Answer 1": "w1",
             "Incorrect Answer 2": "w2", "Incorrect Answer 3": "w3", "Record ID": f"rec{i}"} for i in range(12)]
    path = tmp_path / "gpqa.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    examples = load_dataset("gpqa", data_directory=tmp_path)
    for i, ex in enumerate(examples):
        assert ex.id == f"rec{i}" and sorted(ex.choices) == sorted([f"right {i}", "w1", "w2", "w3"])
        assert ex.choices["ABCD".index(ex.gold)] == f"right {i}"
    assert len({ex.gold for ex in examples}) > 1  # the correct answer is not always option A
    assert [ex.choices for ex in load_dataset("gpqa", data_directory=tmp_path)] == [ex.choices for ex in examples]


def test_bad_rows_give_one_clear_error_and_ids_of_zero_are_kept(tmp_path):
    path = tmp_path / "mmlu_stem.jsonl"
    path.write_text(json.dumps({"question": "q", "choices": ["a", "b"], "answer": "10 J"}) + "\n")
    with pytest.raises(InvalidInputError, match="row 0 .*unusable answer '10 J'"):
        load_dataset(str(path))
    path = tmp_path / "mine.jsonl"
    path.write_text("".join(json.dumps({"id": i, "question": "q", "answer": "1"}) + "\n" for i in (5, 0, 7)))
    assert [e.id for e in load_dataset(str(path))] == ["5", "0", "7"]


def test_an_empty_gold_is_taken_from_a_trailing_answer_in_the_question(tmp_path):
    path = tmp_path / "gaokao2023en.jsonl"
    row = {"question": "Compute the probability.answers: $\\frac{3}{10}$", "answer": "", "id": "HMMT_9"}
    path.write_text(json.dumps(row) + "\n")
    ex = load_dataset("gaokao2023en", data_directory=tmp_path)[0]
    assert ex.gold == "\\frac{3}{10}" and ex.question == "Compute the probability."


def test_interrupted_run_resumes_without_loss_or_duplicates(gsm, tmp_path):
    examples = load_dataset(str(gsm))
    out = tmp_path / "out"
    out.mkdir()
    path = out / "samples-rsd.jsonl"
    with runner._progress(Console(quiet=True)) as progress:
        with pytest.raises(KeyboardInterrupt):
            runner.run_method("rsd", EchoSolver(crash_at=4), examples, path, "gsm8k", False, progress)
    assert len(path.read_text().splitlines()) == 3
    with path.open("a") as fh:
        fh.write('{"id": "3", "trunc')  # a write torn by the interruption
    with runner._progress(Console(quiet=True)) as progress:
        with pytest.raises(InvalidInputError, match="--resume"):
            runner.run_method("rsd", EchoSolver(), examples, path, "gsm8k", False, progress)
        solver = EchoSolver()
        records = runner.run_method("rsd", solver, examples, path, "gsm8k", True, progress)
    assert solver.calls == 3
    ids = [json.loads(line)["id"] for line in path.read_text().splitlines()]
    assert sorted(ids) == [str(i) for i in range(6)] and len(ids) == len(set(ids))
    assert [r.correct for r in records] == [True, False] * 3


def test_summary_metrics(gsm, tmp_path):
    examples = load_dataset(str(gsm))
    with runner._progress(Console(quiet=True)) as progress:
        records = runner.run_method("rsd", EchoSolver(), examples, tmp_path / "s.jsonl", "gsm8k", False, progress)
    m = summarize(records)
    assert m.n == 6 and m.accuracy == pytest.approx(0.5)
    assert m.draft_acceptance == 1.0 and m.draft_only_fraction == 1.0
    assert m.flops_per_question == pytest.approx(sum(r.flops for r in records) / 6)
    assert m.per_model["target"].flops_per_question == 0
    assert m.finish_reasons == {"eos": 6}
    # The samples file keeps its layout: every key a record has, in the order it always had.
    first = json.loads((tmp_path / "s.jsonl").read_text().splitlines()[0])
    assert list(first) == ["id", "dataset", "question", "gold", "answer", "correct", "level", "response",
                           "method", "delta", "steps", "usage", "flops", "flops_with_prompt", "stats",
                           "finish_reason", "wall_seconds"]
    assert runner.read_samples(tmp_path / "s.jsonl") == records


def _record(correct, level, steps, wall=2.0, stats=None):
    usage = {role: ModelUsage(params=params, generated_tokens=10, prompt_tokens=5)
             for role, params in (("draft", 10), ("target", 100), ("reward", 0))}
    return SampleRecord(id=str(level), method="rsd", correct=correct, level=level, steps=steps, usage=usage,
                        wall_seconds=wall, stats=stats or DecodeStats())


def test_level_accuracy_acceptance_and_per_model_tables():
    def step(source, reward, tokens=5, rejected=None):
        return Step("s", source, reward, tokens, None if rejected is None else RejectedDraft(rejected, 0.1, 3))

    records = [
        _record(True, 1, [step("draft", 0.9), step("draft", None, tokens=0)], stats=DecodeStats(accepted=1)),
        _record(False, 1, [step("target", None, rejected="x"), step("draft", 0.8)],
                stats=DecodeStats(accepted=1, rejected=1)),
        _record(True, 3, [step("target", None, rejected="y")], stats=DecodeStats(degenerate=1)),
    ]
    m = summarize(records)
    assert m.accuracy_by_level == {"1": 0.5, "3": 1.0}
    # Acceptance is read from the statistics the loop counted, not worked out from the steps.
    assert m.draft_acceptance == pytest.approx(2 / 4) and m.draft_acceptance_unit == "steps"
    assert m.stats == DecodeStats(accepted=2, rejected=1, degenerate=1)
    assert m.response_tokens_per_question == pytest.approx(20 / 3)
    assert m.tokens_per_second == pytest.approx(20 / 6)  # delivered tokens, not all models' tokens
    table = runner.markdown_table({"rsd": m})
    assert "50.0% of steps" in table
    assert "| method | level 1 | level 3 |" in table and "| rsd | 50.0% | 100.0% |" in table
    assert "| rsd | 2.000e+02 / 3.000e+02 | 2.000e+03 / 3.000e+03 | - |" in table


def test_a_samples_file_of_the_layout_before_stats_reads_back_with_the_same_metrics():
    """Lines as rewardspec 0.1.0 wrote them, before samples had ``stats``: a real RSD run (tiny model,
    GSM8K 0-2, δ 0.6, whose summary.json said acceptance 0.667) and a real SD run (0.893 of tokens)."""
    from pathlib import Path

    old = Path(__file__).parent / "data" / "samples-rsd-before-stats.jsonl"
    rsd = runner.read_samples(old)
    sd = runner.read_samples(old.with_name("samples-sd-before-stats.jsonl"))
    assert len(rsd) == 3 and len(sd) == 2 and {r.method for r in rsd + sd} == {"rsd", "sd"}
    assert all(isinstance(s, Step) for r in rsd + sd for s in r.steps)
    m = summarize(rsd)
    assert m.draft_acceptance == pytest.approx(2 / 3) and m.draft_acceptance_unit == "steps"
    assert (m.stats.accepted, m.stats.rejected) == (2, 1)
    assert summarize(sd).draft_acceptance == pytest.approx(0.8928571428571429)
    assert summarize(sd).draft_acceptance_unit == "tokens"
    first = json.loads(old.read_text().splitlines()[0])
    assert rsd[0].flops == pytest.approx(first["flops"])
    assert rsd[0].to_dict()["steps"] == first["steps"]
    usage = rsd[0].to_dict()["usage"]  # what 0.1.0 wrote, and no proposals checked (they were not then)
    assert {role: {k: v for k, v in u.items() if k != "lookahead"} for role, u in usage.items()} == first["usage"]
    assert all(u["lookahead"] == asdict(Lookahead()) for u in usage.values())


def test_run_eval_writes_every_output(gsm, tmp_path, monkeypatch):
    monkeypatch.setattr(runner.Solvers, "build", lambda self, name, delta=None: EchoSolver())
    cfg = runner.load_config(None, {"dataset": "gsm8k", "data_dir": str(gsm.parent),
                                    "methods": ["rsd", "target", "draft"], "output": str(tmp_path / "run")})
    methods = runner.run_eval(cfg, console=Console(quiet=True))
    out = tmp_path / "run"
    for name in ("samples-rsd.jsonl", "samples-draft.jsonl", "summary.json", "summary.md",
                 "accuracy_vs_flops.png"):
        assert (out / name).stat().st_size > 0, name
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["methods"]) == {"rsd", "target", "draft"} and summary["config"]["dataset"] == "gsm8k"
    for key in ("accuracy", "n", "flops_per_question", "draft_acceptance", "draft_only_fraction", "wall_seconds"):
        assert key in summary["methods"]["rsd"]
    # Uncertainty: Wilson's interval for 3 of 6, and the paired difference against the target.
    assert summary["methods"]["rsd"]["accuracy_ci95"] == pytest.approx([0.1876, 0.8124], abs=1e-3)
    vs = summary["methods"]["rsd"]["vs_target"]
    assert vs["baseline"] == "target" and vs["n"] == 6 and vs["accuracy_difference"] == 0
    assert summary["methods"]["target"]["vs_target"] is None
    # Provenance: what made these figures, and where.
    prov = summary["provenance"]
    assert prov["rewardspec"] and prov["date"] and prov["machine"]["cores"] and "commit" in prov
    assert prov["models"]["draft"]["sha256"] == "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
    table = (out / "summary.md").read_text()
    assert "| rsd | 6 | 50.0% [18.8, 81.2] | +0.0 [+0.0, +0.0] |" in table
    assert f"rewardspec {prov['rewardspec']}, commit" in table and "Intervals are 95%" in table
    assert methods["rsd"].accuracy == pytest.approx(0.5)


def test_resume_refuses_samples_made_under_other_settings(gsm, tmp_path, monkeypatch):
    monkeypatch.setattr(runner.Solvers, "build", lambda self, name, delta=None: EchoSolver())
    base = {"dataset": "gsm8k", "data_dir": str(gsm.parent), "methods": ["rsd", "best_of_n"], "limit": 3,
            "output": str(tmp_path / "run")}
    runner.run_eval(runner.load_config(None, base), console=Console(quiet=True))
    samples = {p.name: p.read_text() for p in (tmp_path / "run").glob("samples-*.jsonl")}

    # A setting rsd's samples depend on: refused before any work, naming the change.
    with pytest.raises(InvalidInputError, match=r"samples-rsd.jsonl was written with delta=0.7 \(now 0.5\)"):
        runner.run_eval(runner.load_config(None, {**base, "delta": 0.5, "limit": 6}), resume=True,
                        console=Console(quiet=True))
    assert {p.name: p.read_text() for p in (tmp_path / "run").glob("samples-*.jsonl")} == samples

    # n matters to best_of_n, not to rsd.
    with pytest.raises(InvalidInputError, match="samples-best_of_n.jsonl was written with n=8 \\(now 2\\)"):
        runner.run_eval(runner.load_config(None, {**base, "n": 2}), resume=True, console=Console(quiet=True))
    methods = runner.run_eval(runner.load_config(None, {**base, "n": 2, "methods": ["rsd"], "limit": 6}),
                              resume=True, console=Console(quiet=True))
    assert methods["rsd"].n == 6

    # Files from before run.json existed are adopted; a deleted file may be rerun with new settings.
    (tmp_path / "run" / "run.json").unlink()
    runner.run_eval(runner.load_config(None, {**base, "max_tokens": 64}), resume=True, console=Console(quiet=True))
    (tmp_path / "run" / "samples-rsd.jsonl").unlink()
    runner.run_eval(runner.load_config(None, {**base, "methods": ["rsd"], "delta": 0.5}), resume=True,
                    console=Console(quiet=True))
    stored = json.loads((tmp_path / "run" / "run.json").read_text())
    assert stored["samples-rsd.jsonl"]["delta"] == 0.5 and stored["samples-best_of_n.jsonl"]["max_tokens"] == 64


def test_a_run_from_before_a_decoding_setting_existed_resumes_at_its_default(gsm, tmp_path, monkeypatch):
    monkeypatch.setattr(runner.Solvers, "build", lambda self, name, delta=None: EchoSolver())
    base = {"dataset": "gsm8k", "data_dir": str(gsm.parent), "methods": ["rsd"], "limit": 3,
            "output": str(tmp_path / "run")}
    runner.run_eval(runner.load_config(None, base), console=Console(quiet=True))
    run_file = tmp_path / "run" / "run.json"
    stored = json.loads(run_file.read_text())
    for key in ("top_p", "max_steps", "separator"):  # as 0.1.0 wrote run.json
        del stored["samples-rsd.jsonl"][key]
    run_file.write_text(json.dumps(stored))
    methods = runner.run_eval(runner.load_config(None, {**base, "limit": 6}), resume=True, console=Console(quiet=True))
    assert methods["rsd"].n == 6
    run_file.write_text(json.dumps(stored))
    with pytest.raises(InvalidInputError, match=r"top_p=1.0 \(now 0.9\)"):
        runner.run_eval(runner.load_config(None, {**base, "top_p": 0.9}), resume=True, console=Console(quiet=True))


def test_runs_recorded_by_0_1_resume_only_where_nothing_changed(tmp_path):
    cfg = runner.load_config(None, {"dataset": "gsm8k", "methods": ["sd", "best_of_n"]})
    path = tmp_path / "samples-sd.jsonl"
    now = runner.method_settings(cfg, "sd")
    old = {k: v for k, v in now.items() if k not in ("top_p", "max_steps", "separator")}
    old["temperature"] = 0.0  # 0.1.0 recorded sd's temperature, which never applied to it
    (tmp_path / runner.RUN_FILE).write_text(json.dumps({path.name: old}))
    runner.check_settings(path, now, has_samples=True)  # the same run: resumed
    # A run from before the token ceiling had none, which is not today's default: refused.
    older = {k: v for k, v in old.items() if k != "max_total_tokens"}
    (tmp_path / runner.RUN_FILE).write_text(json.dumps({path.name: older}))
    with pytest.raises(InvalidInputError, match="no max_total_tokens"):
        runner.check_settings(path, now, has_samples=True)
    # Search samples now depend on temperature; 0.1.0's did not record it, and sampled at 0.
    search = runner.method_settings(cfg, "best_of_n")
    (tmp_path / runner.RUN_FILE).write_text(json.dumps({"b.jsonl": {
        k: v for k, v in search.items() if k not in ("temperature", "top_p", "max_steps", "separator")}}))
    runner.check_settings(tmp_path / "b.jsonl", search, has_samples=True)


def test_every_bad_setting_is_named_in_one_line():
    with pytest.raises(InvalidInputError) as caught:
        runner.load_config(None, {"dataset": "gsm8k", "delta": 2, "rule": "hard", "top_p": 0})
    message = str(caught.value)
    assert "\n" not in message and all(f"{k}:" in message for k in ("delta", "rule", "top_p"))


def test_sweep_writes_plot(gsm, tmp_path, monkeypatch):
    monkeypatch.setattr(runner.Solvers, "build", lambda self, name, delta=None: EchoSolver())
    cfg = runner.load_config(None, {"dataset": "gsm8k", "data_dir": str(gsm.parent), "limit": 2,
                                    "output": str(tmp_path / "sw")})
    methods = runner.run_sweep(cfg, [0.0, 0.5], console=Console(quiet=True))
    assert set(methods) == {"target", "draft", "rsd@0", "rsd@0.5"}
    assert (tmp_path / "sw" / "sweep.png").stat().st_size > 0


def test_config_validation(tmp_path):
    bad = tmp_path / "c.json"
    bad.write_text(json.dumps({"dataset": "gsm8k", "methods": ["rsd", "magic"]}))
    with pytest.raises(InvalidInputError, match="unknown method"):
        runner.load_config(str(bad), {})
    with pytest.raises(InvalidInputError, match="delta"):
        runner.load_config(None, {"dataset": "gsm8k", "delta": 2})
    with pytest.raises(InvalidInputError, match="--dataset"):
        runner.load_config(None, {})
    with pytest.raises(InvalidInputError, match="unknown acceptance rule 'hard'"):
        runner.load_config(None, {"dataset": "gsm8k", "rule": "hard"})
    with pytest.raises(InvalidInputError, match="unknown aggregation 'mean'"):
        runner.load_config(None, {"dataset": "gsm8k", "aggregation": "mean"})
    with pytest.raises(InvalidInputError, match="no methods"):
        runner.load_config(None, {"dataset": "gsm8k", "methods": []})
    with pytest.raises(InvalidInputError, match="unknown prompt"):
        runner.load_config(None, {"dataset": "gsm8k", "prompt": "my-own"})
    good = tmp_path / "c.yaml"
    good.write_text("dataset: math500\nlimit: 3\nmethods: [rsd, sd]\n")
    cfg = runner.load_config(str(good), {"limit": 5})
    assert cfg.limit == 5 and cfg.methods == ["rsd", "sd"]


@pytest.mark.models
def test_a_real_eval_builds_every_method_through_the_composition_root(gsm, tmp_path):
    """No monkeypatching: the tiny real model as draft and target, each method built from the table."""
    cfg = runner.load_config(None, {
        "dataset": "gsm8k", "data_dir": str(gsm.parent), "ids": "1-2", "draft": "smollm2-135m",
        "target": "smollm2-135m", "reward": "likelihood", "max_tokens": 12, "n": 2, "width": 2,
        "methods": ["rsd", "target", "draft", "best_of_n", "majority", "beam"],
        "output": str(tmp_path / "out")})
    summary = runner.run_eval(cfg, console=Console(quiet=True))
    for method in cfg.methods:
        records = runner.read_samples(tmp_path / "out" / f"samples-{method}.jsonl")
        assert [r.id for r in records] == ["1", "2"], method
        assert all(r.method == method and r.usage["draft" if method != "target" else "target"]
                   .generated_tokens > 0 for r in records)
        assert summary[method].n == 2
    # best_of_n and majority shared their samples: the same tokens were paid for by each.
    best = runner.read_samples(tmp_path / "out" / "samples-best_of_n.jsonl")
    vote = runner.read_samples(tmp_path / "out" / "samples-majority.jsonl")
    assert [r.usage["draft"].generated_tokens for r in best] == [r.usage["draft"].generated_tokens for r in vote]
