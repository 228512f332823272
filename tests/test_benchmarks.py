"""The benchmark scripts: the shared timer, one real run, and the GPU scripts' refusal on a machine without CUDA."""

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from bench_timing import time_interleaved  # noqa: E402


def script(name: str, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, str(REPO / "scripts" / name), *args]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True)


def test_the_timer_interleaves_the_variants_and_reports_min_and_median():
    calls = []
    variants = {name: (lambda name=name: calls.append(name)) for name in ("a", "b", "c")}
    timings = time_interleaved(variants, repeats=3, warmup=2)
    assert calls == ["a", "a", "b", "b", "c", "c"] + ["a", "b", "c"] * 3  # warm-up, then round after round
    assert set(timings) == {"a", "b", "c"}
    assert all(0 <= t.min_s <= t.median_s for t in timings.values())


def test_the_render_benchmark_prints_its_ratio_against_gymnasium():
    result = script("bench_render.py", "--repeats", "1", "--calls", "2", "--image-size", "32")
    assert result.returncode == 0, result.stderr
    assert "| gymnasium render() |" in result.stdout and "| FastRenderer |" in result.stdout
    assert "x per frame" in result.stdout


@pytest.mark.skipif(torch.cuda.is_available(), reason="the refusal is for machines without CUDA")
@pytest.mark.parametrize(("name", "hint"), [("bench_gpu", "scripts/bench_train_step.py"), ("compose", "--device cpu")])
def test_gpu_benchmarks_refuse_a_machine_without_cuda_in_one_line(name, hint, monkeypatch, capsys, tmp_path):
    module = importlib.import_module("bench_gpu_preset" if name == "bench_gpu" else "bench_compose")
    monkeypatch.setattr(sys, "argv", [module.__file__, "--output", str(tmp_path)])
    assert module.main() == 2  # the scripts' own main, as `python scripts/<name>.py` runs it
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"error: scripts/{Path(module.__file__).name} needs a CUDA device" in err[0]
    assert hint in err[0]
