"""`interpboard analyze`: one input through the cache and the job queue, printed as a summary or JSON."""

from __future__ import annotations

import argparse
from typing import Any

from rich.table import Table
from rich.text import Text

from dashapp.cli.console import EXIT_BAD_INPUT, EXIT_INTERNAL, err, fail, out, print_json, progress_bar


def cmd_analyze(args: argparse.Namespace) -> int:
    from interp.schema import AnalysisRequest
    from workers import get_executor
    from workers.job_status import Focus
    from workers.jobs import JobState

    request = AnalysisRequest.from_dict({name: getattr(args, name) for name in AnalysisRequest.model_fields})
    layers = _layers(args.layers)
    executor = get_executor()
    # Every part, whatever its cost (the CLI waits for what it asks), or the sensitivity of some layers only.
    sub = executor.submit(request, focus=Focus(everything=True) if layers is None else Focus(layers=layers))
    if not sub.cached:
        _check_done(_follow(executor, sub.job_id, args.timeout), JobState.DONE)
    analysis = executor.result(sub.key)
    missing = _missing_parts(analysis, layers)
    if missing:  # cached before with fewer parts (offered, or other layers): ask for the rest
        try:
            asked = executor.request_parts(request, missing)
        except ValueError as exc:
            fail(str(exc), EXIT_BAD_INPUT)
        for job_id in dict.fromkeys(s.job_id for s in asked if s.job_id):
            _check_done(_follow(executor, job_id, args.timeout), JobState.DONE)
        analysis = executor.result(sub.key)
    if analysis is None:
        fail(
            f"the result {sub.key} is not in the cache (evicted already? check INTERPBOARD_CACHE_SIZE_LIMIT)",
            EXIT_INTERNAL,
        )
    if args.json:
        parts = executor.part_states(sub.key, analysis)
        print_json({"key": sub.key, "cached": sub.cached, **analysis.to_json(full=args.full), "parts": parts})
    else:
        _print_summary(sub.key, sub.cached, analysis)
    return 0


def _layers(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        layers = sorted({int(item) for item in text.split(",") if item.strip()})
    except ValueError:
        fail(f"--layers takes comma-separated layer numbers (0-based), not {text!r}", EXIT_BAD_INPUT)
    if not layers or layers[0] < 0:
        fail(f"--layers takes layer numbers from 0, not {text!r}", EXIT_BAD_INPUT)
    return layers


def _missing_parts(analysis: Any, layers: list[int] | None) -> list[str]:
    """The parts the command wants that the analysis lacks: all of them, or the named layers' (and IG)."""
    if analysis is None or not analysis.parts:
        return []
    from workers.part_store import pending

    wanted = [n for n in pending(analysis) if layers is None or not n.startswith("sensitivity.")]
    if layers is not None and "attention_sensitivity" in analysis.request.methods:
        wanted += [f"sensitivity.{layer}" for layer in layers if analysis.sensitivity_of(layer) is None]
    return wanted


def _check_done(status: Any, done: Any) -> None:
    if status.state != done:
        fail(
            status.error or f"the job was {status.state}",
            EXIT_BAD_INPUT if status.error_kind == "input" else EXIT_INTERNAL,
        )


def _follow(executor: Any, job_id: str, timeout: float | None) -> Any:
    """Wait for the job; on a terminal, show its stage and progress. Ctrl-C cancels it."""
    try:
        if not err.is_terminal:
            return executor.wait(job_id, timeout=timeout)
        with progress_bar() as progress:
            bar = progress.add_task("queued", total=1.0)

            def show(status: Any) -> None:
                where = f" (#{status.queue_position} in queue)" if status.queue_position else ""
                progress.update(bar, description=status.stage_text + where, completed=status.progress)

            return executor.wait(job_id, timeout=timeout, poll=0.2, on_poll=show)
    except KeyboardInterrupt:
        executor.cancel(job_id)
        fail("interrupted: job cancelled", 130)
    except TimeoutError as exc:
        fail(str(exc), EXIT_INTERNAL)


def _print_summary(key: str, cached: bool, analysis: Any) -> None:
    request = analysis.request
    out.print(
        Text.assemble(
            (f"{request.model}", "bold"),
            f" · {request.task} · {analysis.n_tokens} tokens",
            " · cached" if cached else " · computed",
            f" · key {key[:16]}…",
        )
    )
    predictions = Table("prediction", "score", title="Predictions", title_justify="left")
    for p in analysis.predictions[:10]:
        predictions.add_row(Text(str(p["label"])), f"{p['score']:.4f}")
    out.print(predictions)
    if analysis.saliency:
        saliency = Table("method", "most salient tokens", title="Saliency", title_justify="left")
        for method, values in analysis.saliency.items():
            ranked = sorted(range(len(values)), key=lambda i: -abs(float(values[i])))[:5]
            saliency.add_row(
                method, Text(", ".join(f"{analysis.tokens[i]} {float(values[i]):.3f}" for i in ranked))
            )
        out.print(saliency)
    if analysis.logit_lens:
        out.print(_logit_lens_table(analysis))
    if analysis.candidate_scores:
        words = Table("word", "probability", title="Candidate words", title_justify="left")
        for s in analysis.candidate_scores:
            pieces = " ".join(s["pieces"]) or "nothing"
            shown = f"{s['score']:.4f}" if s["score"] is not None else f"not one token ({pieces})"
            words.add_row(Text(s["word"]), Text(shown))
        out.print(words)
    if analysis.truncated:
        out.print(Text("the input was truncated to the model's maximum length", style="yellow"))
    offered = [name for name, part in analysis.parts.items() if part.get("state") != "done"]
    if offered:
        out.print(Text(f"not computed (ask with --layers or the API): {', '.join(offered)}", style="yellow"))


LENS_TOKENS = 3  # of each layer's top-k, in the summary (--json has them all)


def _logit_lens_table(analysis: Any) -> Table:
    """Per layer, its top tokens through the model's vocabulary head, and the target's rank and probability."""
    target = (analysis.target or {}).get("label", "")
    table = Table(
        "layer",
        f"top {LENS_TOKENS}",
        f"target {target!r}",
        title="Logit lens (each layer's residual stream read as the prediction)",
        title_justify="left",
    )
    about = analysis.logit_lens_target or []
    for layer, tops in enumerate(analysis.logit_lens):
        best = ", ".join(f"{p['label']!r} {p['score']:.3f}" for p in tops[:LENS_TOKENS])
        here = about[layer] if layer < len(about) else None
        table.add_row(
            str(layer),
            Text(best),
            f"#{here['rank']} · {here['score']:.4f}" if here else "",
            end_section=False,
        )
    return table


def add_analyze_command(commands: argparse._SubParsersAction) -> None:
    from interp.schema import DEFAULT_IG_STEPS, DEFAULT_TOP_K, METHODS, TASKS

    analyze = commands.add_parser("analyze", help="analyse one input (through the cache and the job queue)")
    analyze.add_argument("--model", required=True, help="model id from `interpboard models`")
    analyze.add_argument("--task", required=True, choices=TASKS)
    analyze.add_argument("--text", required=True)
    analyze.add_argument(
        "--pair", help="hypothesis (mnli), second sentence (similarity) or target text (seq2seq)"
    )
    analyze.add_argument(
        "--mask-index", type=int, help="token index to mask (mlm), instead of [MASK] in the text"
    )
    analyze.add_argument("--target", help="the label to explain (default: the top prediction)")
    analyze.add_argument(
        "--methods", default=",".join(METHODS), help=f"comma-separated, from {','.join(METHODS)}"
    )
    analyze.add_argument("--top-k", type=int, default=DEFAULT_TOP_K)
    analyze.add_argument("--ig-steps", type=int, default=DEFAULT_IG_STEPS)
    analyze.add_argument(
        "--generate", type=int, metavar="N", help="causal-lm: generate N tokens (at most 64) and explain each"
    )
    analyze.add_argument(
        "--sample-seed", type=int, help="with --generate: sample with this seed (default: greedy)"
    )
    analyze.add_argument(
        "--max-new-tokens", type=int, help="seq2seq without --pair: the longest target to generate"
    )
    analyze.add_argument(
        "--candidates",
        nargs="+",
        metavar="WORD",
        help="mlm, causal-lm: also score these words (each model's own probability; candidate_scores)",
    )
    analyze.add_argument(
        "--layers",
        help="comma-separated layers (0-based) to compute attention sensitivity for (default: all)",
    )
    analyze.add_argument("--timeout", type=float, help="seconds to wait for the job")
    analyze.add_argument("--json", action="store_true", help="print one JSON object")
    analyze.add_argument(
        "--full", action="store_true", help="with --json: include attention and attention_sensitivity"
    )
    analyze.set_defaults(func=cmd_analyze)
