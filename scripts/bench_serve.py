"""Planning API throughput and latency, dynamic batching on against off, at several client concurrencies.

Two real uvicorn servers on loopback share one cpu-preset planner (random weights: timing does not depend on
them): "off" plans one request per model call, "on" batches requests that arrive within the window. Each
variant (mode, concurrency) sends `concurrency × requests_per_client` requests from that many clients at once;
variants run interleaved, round after round. Throughput is plans per second of wall time (min and median over
rounds); latencies are per request, pooled over rounds.

Usage: .venv/bin/python scripts/bench_serve.py [--steps 10 --repeats 3 --requests-per-client 2] [--quick]
       [--ratios FILE]
"""

import argparse
import base64
import concurrent.futures
import io
import os
import statistics
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import torch
from bench_timing import Ratio, Timing, save_ratios, time_interleaved
from PIL import Image

from foundation.errors import InputError, exit_status
from video_planner.model.config import preset
from video_planner.model.planner import VideoPlanner
from video_planner.serving.app import create_app
from video_planner.serving.served_models import ServedModels
from video_planner.serving.server import running_server
from video_planner.serving.settings import ServeSettings

CONCURRENCIES = (1, 4, 16)
MODES = {"off": dict(max_batch=1, max_samples=1, batch_window_ms=0.0), "on": dict(max_batch=16, batch_window_ms=5.0)}


def request_body(steps: int) -> dict:
    image = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)  # (H, W, 3)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    encoded = base64.b64encode(buffer.getvalue()).decode()
    return {"image": encoded, "instruction": "open the door", "steps": steps, "format": "npz"}


def load(url: str, body: dict, concurrency: int, per_client: int, latencies: list[float]) -> None:
    """`concurrency` clients, each sending `per_client` requests one after another; appends each latency."""

    def client(index: int) -> list[float]:
        seconds = []
        with httpx.Client(base_url=url, timeout=600) as http:
            for k in range(per_client):
                start = time.perf_counter()
                response = http.post("/v1/plan", json=body | {"seed": 1000 * index + k})
                response.raise_for_status()
                seconds.append(time.perf_counter() - start)
        return seconds

    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        for seconds in pool.map(client, range(concurrency)):
            latencies.extend(seconds)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def batching_ratio(timings: dict[tuple[str, int], Timing], per_client: int) -> Ratio:
    """Throughput with batching on against off at the highest concurrency, by medians as the table's last
    column."""
    clients = max(CONCURRENCIES)
    on, off = timings["on", clients], timings["off", clients]
    plans = clients * per_client

    def rates(t: Timing) -> str:
        return f"{plans / t.min_s:.3g} / {plans / t.median_s:.3g}"

    return Ratio(
        benchmark="planning API throughput",
        variant=f"batching on, {clients} clients",
        baseline=f"batching off, {clients} clients",
        ratio=off.median_s / on.median_s,
        meaning="more plans/s (median walls)",
        detail=f"{rates(on)} plans/s vs {rates(off)} plans/s (min wall / median wall)",
    )


def bench_serve(steps: int, repeats: int, per_client: int) -> tuple[str, list[Ratio]]:
    """The table of throughput and latencies per batching mode and concurrency, and batching's ratio."""
    if steps < 1 or repeats < 1 or per_client < 1:
        raise InputError(
            f"--steps, --repeats and --requests-per-client must be >= 1, got {steps}, {repeats}, {per_client}"
        )
    torch.manual_seed(0)
    models = ServedModels(VideoPlanner(preset("cpu")).eval(), "cpu-preset-random")
    body = request_body(steps)
    common = dict(port=0, max_queue=256, rate_burst=100_000, rate_limit_per_minute=1e9, request_timeout_s=600.0)
    latencies = {(mode, c): [] for mode in MODES for c in CONCURRENCIES}
    with (
        running_server(create_app(models, off := ServeSettings(**common, **MODES["off"]), None), off) as off_url,
        running_server(create_app(models, on := ServeSettings(**common, **MODES["on"]), None), on) as on_url,
    ):
        urls = {"off": off_url, "on": on_url}
        for url in urls.values():  # both warm (readyz) before any timing
            while httpx.get(f"{url}/readyz").status_code != 200:
                time.sleep(0.1)
        variants = {
            (mode, c): lambda mode=mode, c=c: load(urls[mode], body, c, per_client, latencies[mode, c])
            for mode in MODES
            for c in CONCURRENCIES
        }
        timings = time_interleaved(variants, repeats)
    for key in latencies:  # the warm-up round of each variant is not counted
        latencies[key] = latencies[key][key[1] * per_client :]
    single = statistics.median(latencies["off", 1])
    lines = [
        f"planning API, cpu preset (random weights), {steps} DPM-Solver++ steps, guidance on, "
        f"{os.cpu_count()} cores, torch {torch.get_num_threads()} threads, {repeats} interleaved rounds, "
        f"{per_client} requests per client; single-request latency (off, 1 client, median) {single:.3f} s",
        "| batching | clients | plans/s (min wall / median wall) | p50 s | p99 s | p99 / single | throughput vs off |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in CONCURRENCIES:
        for mode in MODES:
            plans = c * per_client
            t, values = timings[mode, c], latencies[mode, c]
            ratio = timings["off", c].median_s / t.median_s
            lines.append(
                f"| {mode} | {c} | {plans / t.min_s:.2f} / {plans / t.median_s:.2f} | {percentile(values, 50):.3f} | "
                f"{percentile(values, 99):.3f} | {percentile(values, 99) / single:.1f}x | {ratio:.2f}x |"
            )
    return "\n".join(lines), [batching_ratio(timings, per_client)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="denoising steps per plan (default: 10)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds (default: 3)")
    parser.add_argument("--requests-per-client", type=int, default=2, help="sequential requests (default: 2)")
    parser.add_argument("--quick", action="store_true", help="4 steps, 1 round, 1 request per client")
    parser.add_argument(
        "--ratios", type=Path, help="append the headline ratios as JSON lines (scripts/bench_all.py reads them)"
    )
    args = parser.parse_args()
    if args.quick:
        args.steps, args.repeats, args.requests_per_client = 4, 1, 1

    def run() -> None:
        report, ratios = bench_serve(args.steps, args.repeats, args.requests_per_client)
        print(report)
        save_ratios(args.ratios, ratios)

    return exit_status(run)


if __name__ == "__main__":
    sys.exit(main())
