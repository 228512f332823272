"""Every CPU benchmark in its quick mode, and one markdown table of their ratios against baselines (`make bench`).

    python scripts/bench_all.py                           # all of them: a few minutes on 2 CPU cores
    python scripts/bench_all.py --only plan,train_step    # some of them

Each script runs in a process of its own, one after another (two at once would slow each other), as
`scripts/bench_<name>.py --quick --ratios FILE`; every ratio it saves (`bench_timing.Ratio`: a variant against
the baseline measured in the same run) becomes a row of `OUTPUT/bench.md`, under a line naming the machine.
Quick modes run few repeats, so their figures are rougher than a script's full run. The GPU benchmarks
(bench_gpu_preset, bench_compose) need CUDA, and the quality ones (bench_plan_quality, bench_objective) a trained
planner and held-out demos: they are not run here.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from bench_timing import Ratio

from foundation.atomic_dir import write_text_atomic
from foundation.errors import InputError, exit_status

SCRIPTS = Path(__file__).resolve().parent
BENCHMARKS = ("render", "train_step", "plan", "serve", "daemon", "rollouts", "ddp", "collect")


def machine() -> str:
    """The CPU model, its core count and the torch version: what the figures were measured on."""
    import torch

    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if "model name" in line]
        model = names[0] if names else model
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    return f"{model}, {os.cpu_count()} cores, {gpu}, torch {torch.__version__}"


def run_benchmark(name: str, ratios_file: Path) -> tuple[list[Ratio], float, str | None]:
    """One script's quick run: its ratios, its wall time, and its error (the last lines of its stderr) or None."""
    before = ratios_file.read_text().count("\n") if ratios_file.exists() else 0
    started = time.monotonic()
    command = [sys.executable, str(SCRIPTS / f"bench_{name}.py"), "--quick", "--ratios", str(ratios_file)]
    print(f"bench_{name}.py --quick", flush=True)
    result = subprocess.run(command, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if result.returncode != 0:
        return [], seconds, " / ".join(result.stderr.strip().splitlines()[-3:]) or f"exit status {result.returncode}"
    lines = ratios_file.read_text().splitlines()[before:] if ratios_file.exists() else []
    return [Ratio(**json.loads(line)) for line in lines], seconds, None


def table(rows: list[tuple[str, list[Ratio], float, str | None]], where: str) -> str:
    lines = [
        f"Measured by `python scripts/bench_all.py` (each benchmark's `--quick` mode) on {where}.",
        "",
        "| benchmark | variant | baseline | ratio | variant vs baseline | script (wall s) |",
        "|---|---|---|---|---|---|",
    ]
    for name, ratios, seconds, error in rows:
        script = f"`bench_{name}.py` ({seconds:.0f})"
        if error is not None:
            lines.append(f"| bench_{name} | failed: {error} | | | | {script} |")
        elif not ratios:
            lines.append(f"| bench_{name} | (no baseline in the same run) | | | | {script} |")
        for r in ratios:
            cells = (r.benchmark, r.variant, r.baseline, f"**{r.ratio:.2f}×** {r.meaning}", r.detail, script)
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def chosen(only: str | None) -> tuple[str, ...]:
    if only is None:
        return BENCHMARKS
    names = tuple(name.strip() for name in only.split(","))
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        raise InputError(f"unknown benchmark {', '.join(unknown)}; valid: {', '.join(BENCHMARKS)}")
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help=f"comma-separated, of {', '.join(BENCHMARKS)}; unset: all")
    parser.add_argument("--output", type=Path, default=Path("outputs/bench"), help="bench.md and ratios.jsonl")
    args = parser.parse_args(argv)
    failed = []

    def bench() -> None:
        names = chosen(args.only)
        args.output.mkdir(parents=True, exist_ok=True)
        ratios_file = args.output / "ratios.jsonl"
        ratios_file.unlink(missing_ok=True)  # this run's ratios only
        rows = [(name, *run_benchmark(name, ratios_file)) for name in names]
        failed.extend(name for name, _, _, error in rows if error is not None)
        text = table(rows, machine())
        write_text_atomic(args.output / "bench.md", text)
        print(f"\n{text}\ntable: {args.output / 'bench.md'}")

    status = exit_status(bench)
    if status == 0 and failed:
        print(f"error: {', '.join(failed)} failed; see the table", file=sys.stderr)
        return 1
    return status


if __name__ == "__main__":
    sys.exit(main())
