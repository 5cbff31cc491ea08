"""The ``rewardspec`` command line: solve, demo, models.

User errors (bad names, missing packages, bad values) print one line on
stderr and exit with code 2; no traceback reaches the user.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Optional
import typer

from rewardspec.build import DEFAULT_DRAFT, DEFAULT_TARGET, build_solvers, solver_settings
from rewardspec.codec import trace_to_json
from rewardspec.errors import InvalidInputError, RewardspecError
from rewardspec.methods.acceptance import DEFAULT_DELTA, RULES
from rewardspec.methods.base import DecodeConfig
from rewardspec.methods.table import METHODS
from rewardspec.rewards import DEFAULT_REWARD

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    help="Reward-Guided Speculative Decoding: a small draft writes each reasoning step, "
    "a reward model judges it, and the large target rewrites only the steps it rejects.",
)

REWRITE_REUSE_HELP = ("RSD: the target checks a rejected draft step in batched passes and keeps the "
                      "tokens it agrees with; the text is the same, with fewer decode passes.")
PROMPT_LOOKUP_HELP = ("Tokens per n-gram guess looked up in the context and checked in each in-process "
                      "model's decode; the text is the same (0: off).")
PROMPT_LOOKUP_ROLES_HELP = "Roles whose decode uses prompt lookup: draft, target or both, comma-separated."


@app.command()
def solve(
    question: str = typer.Argument(..., help="The problem to solve."),
    method: str = typer.Option("rsd", help=f"One of {', '.join(METHODS)}."),
    delta: float = typer.Option(DEFAULT_DELTA, help="Acceptance threshold δ in [0, 1]."),
    rule: str = typer.Option("binary", help=f"Acceptance rule ω: {', '.join(RULES)}."),
    escalate_after: int = typer.Option(0, help="After this many rejected draft steps, the target writes "
                                       "the rest of the answer (δ per question; 0: never)."),
    route: Optional[str] = typer.Option(None, help="δ per question before solving, from a question head: "
                                        "head:PATH_OR_NAME?target_below=P&draft_above=Q: the target "
                                        "writes questions the head puts below P, the draft those at or above Q."),
    draft: str = typer.Option(DEFAULT_DRAFT, help="Draft model: registry name or GGUF path."),
    target: str = typer.Option(DEFAULT_TARGET, help="Target model: registry name or GGUF path."),
    reward: str = typer.Option(DEFAULT_REWARD, help="Reward model spec (see `rewardspec models`)."),
    max_tokens: int = typer.Option(1024, help="Most tokens in the response."),
    max_steps: int = typer.Option(64, help="Most steps in the response."),
    max_total_tokens: Optional[int] = typer.Option(None, help="Most tokens all models may generate, "
                                                   "rejected drafts included (default 4 x max-tokens)."),
    repetition_limit: int = typer.Option(64, help="Tokens of repetition that end a step as a loop (0: off)."),
    temperature: float = typer.Option(0.0, help="0 is greedy."),
    top_p: float = typer.Option(1.0, help="Nucleus sampling mass."),
    top_k: int = typer.Option(0, help="Sample among the k most likely tokens only (0: all)."),
    min_p: float = typer.Option(0.0, help="Drop tokens less likely than min-p times the most likely one."),
    repetition_penalty: float = typer.Option(1.0, help="Penalise tokens already in the prompt or response (1: off)."),
    seed: int = typer.Option(0, help="Seed for sampling and for soft acceptance rules."),
    separator: str = typer.Option("\\n\\n", help="Step separator (escapes allowed)."),
    rewrite_reuse: bool = typer.Option(False, help=REWRITE_REUSE_HELP),
    prompt_lookup: int = typer.Option(0, help=PROMPT_LOOKUP_HELP),
    prompt_lookup_roles: str = typer.Option("draft,target", help=PROMPT_LOOKUP_ROLES_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of the live view."),
) -> None:
    """Solve one question with RSD or a baseline, printing each step as it is decided."""
    from rewardspec.display import lookahead_text, make_console, step_line, usage_table

    if not question.strip():
        raise InvalidInputError("the question is empty; pass the problem text to solve")
    if route is not None and method != "rsd":
        raise InvalidInputError(f"--route decides which model writes a question for RSD; --method {method} "
                                "would ignore it (leave it out, or use --method rsd)")
    settings = solver_settings(draft=draft, target=target, reward=reward, delta=delta, rule=rule,
                               escalate_after=escalate_after, route=route, temperature=temperature,
                               top_p=top_p, top_k=top_k, min_p=min_p, repetition_penalty=repetition_penalty,
                               max_steps=max_steps, repetition_limit=repetition_limit,
                               separator=separator.encode().decode("unicode_escape"),
                               rewrite_reuse=rewrite_reuse, prompt_lookup=prompt_lookup,
                               prompt_lookup_roles=_roles(prompt_lookup_roles))
    config = settings.decode_config(max_tokens=max_tokens, seed=seed, max_total_tokens=max_total_tokens)
    solver = build_solvers((method,), settings, config)[method]
    if as_json:
        trace = solver.solve(question)
        print(json.dumps(trace_to_json(trace), indent=2))
        return
    console = make_console()
    counter = iter(range(1, 10_000))
    trace = solver.solve(question, on_step=lambda s: console.print(step_line(next(counter), s)))
    console.print(f"\n[bold]Answer:[/] {trace.answer}   ({trace.finish_reason}, "
                  f"{trace.wall_seconds:.1f}s)")
    if trace.route is not None:
        console.print(f"routed before solving: {trace.route.route} writes "
                      f"{'every step' if trace.route.route != 'rsd' else 'as RSD decides'} "
                      f"(question head: P(draft solves it) = {trace.route.value:.2f})")
    stats = trace.stats
    if stats.judged:
        console.print(f"draft steps judged: {stats.judged}, kept {stats.accepted}, rewritten by the target "
                      f"{stats.rewritten} ({stats.degenerate} for looping)"
                      + (f"; escalated: the target wrote {stats.escalated} more" if stats.escalated else ""))
    checked = lookahead_text(trace)
    if checked:
        console.print(checked)
    console.print(usage_table(trace))


@app.command()
def demo(
    delta: float = typer.Option(DEFAULT_DELTA, help="Acceptance threshold δ in [0, 1]."),
    reward: str = typer.Option(DEFAULT_REWARD, help="Reward model spec."),
    draft: str = typer.Option(DEFAULT_DRAFT),
    target: str = typer.Option(DEFAULT_TARGET),
    problems: int = typer.Option(5, help="How many built-in problems to compare on (0 skips)."),
) -> None:
    """Solve a built-in problem live with RSD, then compare rsd, target and draft."""
    from rewardspec.demo import PROBLEMS, run_demo
    from rewardspec.display import make_console

    console = make_console()
    with console.status("loading models (first run assembles and verifies the weights)…"):
        settings = solver_settings(draft=draft, target=target, reward=reward, delta=delta)
        solvers = build_solvers(("rsd", "target", "draft"), settings, DecodeConfig(max_tokens=512))
    run_demo(solvers, console, PROBLEMS[: max(0, problems)])


@app.command()
def models() -> None:
    """List the embedded models and the reward specs."""
    from rewardspec.display import make_console
    from rewardspec.registry import EMBEDDED
    from rewardspec.rewards import SPECS

    console = make_console()
    for m in EMBEDDED.values():
        console.print(f"[bold]{m.name}[/] ({', '.join(m.aliases)}): {m.description}\n"
                      f"    install: {m.pip_install}")
    console.print(f"\nreward specs: {', '.join(SPECS)} (default {DEFAULT_REWARD})")


def _roles(value: str | None) -> list[str] | None:
    return None if value is None else [r.strip() for r in value.split(",") if r.strip()]


def _eval_overrides(**values) -> dict:
    """Only the options given on the command line override the config file."""
    return {k: v for k, v in values.items() if v is not None}


@contextmanager
def _resumable(output: str, again: str = "run the same command with --resume") -> Iterator[None]:
    """On Ctrl-C, say that the finished samples are kept and how to go on from them."""
    from rewardspec.endpoints import RemoteUnavailableError

    try:
        yield
    except KeyboardInterrupt:
        print(f"rewardspec: interrupted; every finished sample is saved in {output}/: "
              f"{again} to continue", file=sys.stderr)
        sys.stderr.flush()
        os._exit(130)  # questions still in flight (--concurrency) are not waited for; samples are on disk
    except RemoteUnavailableError as exc:
        print(f"rewardspec: {exc}; every finished sample is saved in {output}/: once the server answers, "
              f"{again} to continue", file=sys.stderr)
        sys.exit(2)


@app.command("eval")
def eval_command(
    dataset: Optional[str] = typer.Option(None, help="math500, gsm8k, gaokao2023en, olympiadbench, amc23, "
                                          "aime24, mmlu_stem, gpqa, or a .jsonl path."),
    limit: Optional[int] = typer.Option(None, help="First N questions only."),
    ids: Optional[str] = typer.Option(None, help="Only the problems with these ids, e.g. 504 or 500-549,700."),
    levels: Optional[str] = typer.Option(None, help="Only problems of these difficulty levels, e.g. 1-3 "
                                         "(math500); applied before --limit."),
    methods: Optional[str] = typer.Option(None, help="Comma-separated: rsd,target,draft,sd,best_of_n,"
                                          "majority,process_best_of_n,beam (default rsd,target,draft)."),
    delta: Optional[float] = typer.Option(None, help="RSD acceptance threshold δ (default 0.7)."),
    n: Optional[int] = typer.Option(None, help="Samples for best_of_n and majority (default 8)."),
    width: Optional[int] = typer.Option(None, help="Candidates per step for process_best_of_n/beam (default 4)."),
    beam_size: Optional[int] = typer.Option(None, help="Beams kept per step for beam (default 2)."),
    aggregation: Optional[str] = typer.Option(None, help="Step-reward aggregation: last, min, prod."),
    rule: Optional[str] = typer.Option(None, help="RSD weighting rule: binary, clip, sigmoid (default binary)."),
    escalate_after: Optional[int] = typer.Option(None, help="RSD: after this many rejected draft steps the "
                                                 "target writes the rest (δ per question; default 0: never)."),
    route: Optional[str] = typer.Option(None, help="RSD: δ per question before solving, from a question head: "
                                        "head:PATH_OR_NAME?target_below=P&draft_above=Q: the target "
                                        "writes questions the head puts below P, the draft those at or above Q."),
    draft: Optional[str] = typer.Option(None), target: Optional[str] = typer.Option(None),
    reward: Optional[str] = typer.Option(None),
    max_tokens: Optional[int] = typer.Option(None, help="Most tokens in a response (default 1024)."),
    max_total_tokens: Optional[int] = typer.Option(None, help="Most tokens all models may generate for one "
                                                   "question, rejected drafts included (default 4 x max-tokens)."),
    repetition_limit: Optional[int] = typer.Option(None, help="Tokens of repetition that end a step as a loop "
                                                   "(default 64; 0: off)."),
    seed: Optional[int] = typer.Option(None),
    temperature: Optional[float] = typer.Option(None, help="Sampling temperature of rsd/target/"
                                                "draft (default 0: greedy; sd is greedy and refuses > 0)."),
    sample_temperature: Optional[float] = typer.Option(None, help="Temperature of the search methods' "
                                                       "samples (default 0.7)."),
    top_k: Optional[int] = typer.Option(None, help="Sample among the k most likely tokens only (default 0: all)."),
    min_p: Optional[float] = typer.Option(None, help="Drop tokens less likely than min-p times the most likely "
                                          "one (default 0)."),
    repetition_penalty: Optional[float] = typer.Option(None, help="Penalise tokens already in the prompt or "
                                                       "response (default 1: off)."),
    num_pred_tokens: Optional[int] = typer.Option(None, help="Draft tokens proposed per sd round (default 4)."),
    rewrite_reuse: Optional[bool] = typer.Option(None, help=REWRITE_REUSE_HELP + " [default: off]"),
    prompt_lookup: Optional[int] = typer.Option(None, help=PROMPT_LOOKUP_HELP + " [default: 0]"),
    prompt_lookup_roles: Optional[str] = typer.Option(None, help=PROMPT_LOOKUP_ROLES_HELP),
    data_dir: Optional[str] = typer.Option(None, help="Directory of DATASET.jsonl files "
                                           "(default $REWARDSPEC_DATA, then ./shared/data or ../shared/data)."),
    question_field: Optional[str] = typer.Option(None), answer_field: Optional[str] = typer.Option(None),
    output: Optional[str] = typer.Option(None, help="Output directory (default runs/eval)."),
    concurrency: Optional[int] = typer.Option(None, help="Questions in flight at once (default 1; raise it "
                                              "for models on servers, which batch what arrives together)."),
    resume: bool = typer.Option(False, help="Skip samples already in the output directory."),
    config: Optional[str] = typer.Option(None, help="YAML or JSON file with any of these options."),
) -> None:
    """Run methods over a dataset; write samples, summary.json/.md and an accuracy-vs-FLOPs plot."""
    from rewardspec.eval.runner import load_config, run_eval
    from rewardspec.display import make_console

    cfg = load_config(config, _eval_overrides(
        dataset=dataset, limit=limit, ids=ids, levels=levels, methods=[m.strip() for m in methods.split(",") if m.strip()] if methods else None, delta=delta,
        n=n, width=width, beam_size=beam_size, aggregation=aggregation, rule=rule, draft=draft, target=target,
        escalate_after=escalate_after, route=route,
        reward=reward, max_tokens=max_tokens, max_total_tokens=max_total_tokens,
        repetition_limit=repetition_limit, seed=seed, temperature=temperature,
        sample_temperature=sample_temperature, num_pred_tokens=num_pred_tokens, data_dir=data_dir,
        top_k=top_k, min_p=min_p, repetition_penalty=repetition_penalty,
        rewrite_reuse=rewrite_reuse, prompt_lookup=prompt_lookup, prompt_lookup_roles=_roles(prompt_lookup_roles),
        question_field=question_field, answer_field=answer_field, output=output, concurrency=concurrency))
    with _resumable(cfg.output):
        run_eval(cfg, resume=resume)
    console = make_console()
    console.print((Path(cfg.output) / "summary.md").read_text())
    console.print(f"wrote {cfg.output}/: samples-*.jsonl, summary.json, summary.md, accuracy_vs_flops.png")


@app.command()
def sweep(
    dataset: Optional[str] = typer.Option(None, help="Dataset name or .jsonl path."),
    deltas: str = typer.Option("0,0.3,0.5,0.7,0.9,1.0", help="Comma-separated δ values."),
    limit: Optional[int] = typer.Option(None),
    ids: Optional[str] = typer.Option(None, help="Only the problems with these ids, e.g. 504 or 500-549,700."),
    levels: Optional[str] = typer.Option(None, help="Only problems of these difficulty levels, e.g. 1-3 "
                                         "(math500); applied before --limit."),
    draft: Optional[str] = typer.Option(None),
    target: Optional[str] = typer.Option(None), reward: Optional[str] = typer.Option(None),
    rule: Optional[str] = typer.Option(None, help="RSD weighting rule: binary, clip, sigmoid."),
    max_tokens: Optional[int] = typer.Option(None), seed: Optional[int] = typer.Option(None),
    temperature: Optional[float] = typer.Option(None, help="Sampling temperature (default 0: greedy)."),
    rewrite_reuse: Optional[bool] = typer.Option(None, help=REWRITE_REUSE_HELP + " [default: off]"),
    prompt_lookup: Optional[int] = typer.Option(None, help=PROMPT_LOOKUP_HELP + " [default: 0]"),
    prompt_lookup_roles: Optional[str] = typer.Option(None, help=PROMPT_LOOKUP_ROLES_HELP),
    data_dir: Optional[str] = typer.Option(None), output: Optional[str] = typer.Option(None),
    question_field: Optional[str] = typer.Option(None), answer_field: Optional[str] = typer.Option(None),
    resume: bool = typer.Option(False), config: Optional[str] = typer.Option(None),
) -> None:
    """RSD at each δ plus target and draft; plots accuracy and FLOPs against δ."""
    from rewardspec.display import make_console
    from rewardspec.eval.runner import load_config, run_sweep

    try:
        values = [float(d) for d in deltas.split(",") if d.strip()]
    except ValueError:
        raise InvalidInputError(f"--deltas must be comma-separated numbers; got '{deltas}'") from None
    if not values:
        raise InvalidInputError("--deltas needs at least one value, e.g. --deltas 0,0.5,0.7,1")
    cfg = load_config(config, _eval_overrides(
        dataset=dataset, limit=limit, ids=ids, levels=levels, draft=draft, target=target, reward=reward, rule=rule,
        max_tokens=max_tokens, seed=seed, temperature=temperature, data_dir=data_dir,
        rewrite_reuse=rewrite_reuse, prompt_lookup=prompt_lookup, prompt_lookup_roles=_roles(prompt_lookup_roles),
        question_field=question_field, answer_field=answer_field, output=output or "runs/sweep",
        methods=["rsd", "target", "draft"]))
    with _resumable(cfg.output):
        run_sweep(cfg, values, resume=resume)
    console = make_console()
    console.print((Path(cfg.output) / "summary.md").read_text())
    console.print(f"wrote {cfg.output}/: samples-*.jsonl, summary.json, summary.md, sweep.png")


@app.command()
def report(
    run_dir: str = typer.Argument(..., help="An eval or sweep --output directory."),
    output: Optional[str] = typer.Option(None, help="Where to write the page (default RUN_DIR/report.html)."),
) -> None:
    """Write one self-contained HTML page of a run: summary, plots, and every question's steps, filterable."""
    from rewardspec.eval.report import write_report

    path, run = write_report(run_dir, output)
    print(f"wrote {path}: {len(run.questions)} questions, methods {', '.join(m.name for m in run.methods)}")


@app.command("train-reward")
def train_reward_command(
    output: str = typer.Option(..., help="Where to write the head (JSON, a few KB); use it as --reward head:PATH."),
    dataset: str = typer.Option("gsm8k", help="Dataset name or .jsonl path of (question, answer) pairs."),
    ids: Optional[str] = typer.Option(None, help="Problems to train on (default for gsm8k: 700-1318, "
                                      "never the evaluation problems)."),
    limit: Optional[int] = typer.Option(120, help="At most this many problems."),
    read: str = typer.Option("draft", help="Whose hidden state the head reads: draft (free at decode "
                             "time) or target (one target prefill per step)."),
    draft: str = typer.Option(DEFAULT_DRAFT), target: str = typer.Option(DEFAULT_TARGET),
    methods: str = typer.Option("draft", help="Who writes the training solutions: draft, target or both."),
    labels: str = typer.Option("outcome", help="Step labels: outcome (the solution's final answer), rollout "
                               "(the target's greedy rollout from the step is right; about one target "
                               "solution per step), harmless (the step does not turn a right rollout wrong), "
                               "or question: one row per question, read before solving, for --route."),
    max_tokens: int = typer.Option(512, help="Most tokens in a training solution."),
    work: str = typer.Option("runs/train-reward", help="Where the training solutions go (resumable)."),
    data_dir: Optional[str] = typer.Option(None), question_field: Optional[str] = typer.Option(None),
    answer_field: Optional[str] = typer.Option(None),
) -> None:
    """Train a value head (a linear probe on a hidden state) on solutions graded against the answers."""
    from rewardspec.display import make_console
    from rewardspec.train_reward import train_reward

    console = make_console(stderr=True)
    with _resumable(work, again="run the same command"):
        metrics = train_reward(dataset=dataset, ids=ids, limit=limit, read=read, draft=draft, target=target,
                               methods=[m.strip() for m in methods.split(",") if m.strip()],
                               max_tokens=max_tokens, work=work, output=output, labels=labels,
                               data_dir=data_dir, question_field=question_field, answer_field=answer_field,
                               console=console)
    if labels == "question":
        console.print(f"wrote {output}: {metrics['solutions']} questions ({metrics['right_solutions']} solved, "
                      f"{metrics['right_rate']:.0%}); grouped {metrics['folds']}-fold CV AUROC "
                      f"{metrics['cv_question_auroc']:.3f}; use it with --route "
                      f"'head:{output}?target_below={metrics['right_rate']:.2f}'", soft_wrap=True)
        return
    console.print(f"wrote {output}: {metrics['steps']} steps of {metrics['solutions']} solutions "
                  f"({metrics['right_solutions']} right); grouped {metrics['folds']}-fold CV AUROC "
                  f"{metrics['cv_step_auroc']:.3f} per step, {metrics['cv_solution_min_auroc']:.3f} per "
                  f"solution (its lowest step); use it with --reward head:{output}", soft_wrap=True)
    if "cv_harmless_auroc" in metrics:
        console.print(f"against the rollout labels ({metrics['good_steps']} good, {metrics['harmful_steps']} "
                      f"harmful steps): CV AUROC {metrics['cv_good_auroc']:.3f} good vs. bad, "
                      f"{metrics['cv_harmless_auroc']:.3f} harmless vs. harmful "
                      f"({metrics['cv_advantage_harmless_auroc']:.3f} as an advantage, head:{output}?advantage=true)")


@app.command()
def serve(
    config: Optional[str] = typer.Option(None, "--config", help="Server config, YAML or JSON (see docs/serving.md)."),
    host: Optional[str] = typer.Option(None, help="Address to bind (default: the config's, else 127.0.0.1)."),
    port: Optional[int] = typer.Option(None, help="Port (default: the config's, else 8000)."),
    log_level: str = typer.Option("info", help="uvicorn log level."),
) -> None:
    """Serve RSD behind an OpenAI-compatible API (/v1/chat/completions, /v1/completions)."""
    from rewardspec.serve import run_server

    run_server(config, host=host, port=port, log_level=log_level)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def launch(
    ctx: typer.Context,
    config: str = typer.Option(..., "--config", help="Servers to start, YAML or JSON (see docs/engines.md)."),
) -> None:
    """Start the servers a config lists, wait until each answers, run the command after `--`
    (e.g. `rewardspec eval --config eval.yaml`), then stop them all; no command: until Ctrl-C."""
    from rewardspec.display import make_console
    from rewardspec.launch import launch as run_launch

    command = list(ctx.args)
    if command[:1] == ["--"]:
        command = command[1:]
    code = run_launch(config, command, console=make_console(stderr=True))
    raise typer.Exit(code)


def _click_errors():
    """The exceptions of the click typer runs on (typer 0.2x vendors its own copy)."""
    try:
        from typer._click import exceptions
    except ImportError:  # older typer: click itself
        from click import exceptions
    return exceptions


def main() -> None:
    errors = _click_errors()
    no_args = getattr(errors, "NoArgsIsHelpError", ())
    try:
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:  # typer.Exit(code) comes back as a value here
            sys.exit(code)
    except no_args as exc:  # type: ignore[misc]
        print(exc.ctx.get_help() if exc.ctx else "", file=sys.stderr)
        sys.exit(2)
    except errors.UsageError as exc:  # a bad option or value: one line, as for other errors
        where = f"rewardspec {exc.ctx.info_name}" if exc.ctx and exc.ctx.parent else "rewardspec"
        print(f"rewardspec: error: {exc.format_message()} (see {where} --help)", file=sys.stderr)
        sys.exit(2)
    except errors.ClickException as exc:
        print(f"rewardspec: error: {exc.format_message()}", file=sys.stderr)
        sys.exit(2)
    except typer.Abort:
        print("rewardspec: interrupted", file=sys.stderr)
        sys.exit(130)
    except RewardspecError as exc:
        print(f"rewardspec: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("rewardspec: interrupted", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
