"""The planning API over a real socket: a uvicorn server on a loopback port with a tiny planner (random weights)
and a tiny IDM, called with httpx, `PlannerClient` and a raw socket."""

import asyncio
import base64
import collections
import concurrent.futures
import contextlib
import io
import json
import socket
import subprocess
import sys
import threading

import httpx
import hypothesis
import numpy as np
import pytest
import schemathesis
import torch
from PIL import Image

from foundation.errors import InputError
from inverse_dynamics.config import InverseDynamicsConfig
from inverse_dynamics.model import InverseDynamics
from video_planner.cli import main
from video_planner.model.planner import VideoPlanner
from video_planner.serving.app import create_app
from video_planner.serving.client import PlannerClient
from video_planner.serving.codec import read_npz
from video_planner.serving.served_models import ServedModels
from video_planner.serving.server import running_server
from video_planner.serving.settings import ServeSettings

TOKEN = "a-test-token-of-32-characters-xx"


@pytest.fixture(scope="module")
def models(text_encoder, tiny_planner_config) -> ServedModels:
    torch.manual_seed(0)
    planner = VideoPlanner(tiny_planner_config, text_encoder=text_encoder).eval()
    idm_config = InverseDynamicsConfig(image_size=32, chunk_size=4, encoder_channels=(8, 16), hidden_dim=32)
    return ServedModels(planner, "tiny-planner", InverseDynamics(idm_config).eval(), "tiny-idm")


def serving(models, token=None, **settings):
    """A running server (context manager) yielding its URL; port 0 picks a free one."""
    settings = ServeSettings(port=0, **settings)
    return running_server(create_app(models, settings, token), settings)


@pytest.fixture(scope="module")
def url(models):
    with serving(models, batch_window_ms=50.0, rate_burst=1000, max_image_pixels=1_000_000) as base:
        wait_ready(base)
        yield base


def wait_ready(base: str, token: str | None = None) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    for _ in range(600):
        if httpx.get(f"{base}/readyz", headers=headers).status_code == 200:
            return
        threading.Event().wait(0.05)
    raise AssertionError("the server never became ready")


def scene(seed: int = 0, size: int = 32) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


def png(image: np.ndarray | Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    (image if isinstance(image, Image.Image) else Image.fromarray(image)).save(buffer, format=fmt)
    return buffer.getvalue()


def body(image=None, **fields) -> dict:
    image = scene() if image is None else image
    data = image if isinstance(image, bytes) else png(image)
    return {"image": base64.b64encode(data).decode(), "instruction": "open the door", **fields}


def decode_png(text: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(text))))


def metric(base: str, name: str) -> float:
    for line in httpx.get(f"{base}/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"no metric {name}")


def test_a_served_plan_equals_the_local_plan_for_the_same_seed(url, models):
    local = models.planner.plan(scene(), "open the door", seed=7)
    answer = httpx.post(f"{url}/v1/plan", json=body(seed=7, format="png"), timeout=60).json()
    frames = [decode_png(f) for f in answer["plans"][0]["frames"]]
    np.testing.assert_array_equal(frames[0], local.context_frame)
    np.testing.assert_array_equal(np.stack(frames[1:]), local.frames)
    assert answer["plans"][0]["seed"] == 7 and answer["models"]["planner"] == "tiny-planner"
    assert answer["latency_s"] >= answer["queue_s"] >= 0 and answer["batch_plans"] >= 1

    npz = httpx.post(f"{url}/v1/plan", json=body(seed=7, format="npz"), timeout=60).json()
    np.testing.assert_array_equal(read_npz(base64.b64decode(npz["plans"][0]["data"]))[0], local.frames)
    mp4 = httpx.post(f"{url}/v1/plan", json=body(seed=7, format="mp4"), timeout=60).json()
    assert base64.b64decode(mp4["plans"][0]["data"])[4:8] == b"ftyp"  # an mp4 container


def test_the_client_is_a_planner_with_exact_frames(url, models):
    client = PlannerClient(url)
    assert (client.config.image_size, client.config.num_future_frames) == (32, 3)
    remote = client.plan(scene(1), "close the drawer", seed=3, steps=2)
    local = models.planner.plan(scene(1), "close the drawer", seed=3, steps=2)
    np.testing.assert_array_equal(remote.frames, local.frames)
    assert (remote.seed, remote.steps, remote.instruction) == (3, 2, "close the drawer")
    with pytest.raises(InputError, match="422 steps"):
        client.plan(scene(), "open the door", steps=10**6)


def test_concurrent_requests_share_model_calls_and_keep_their_own_plans(url, models):
    calls_before = metric(url, "vp_model_calls_total")
    requests = [body(scene(i), seed=100 + i, format="npz") for i in range(8)]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda b: httpx.post(f"{url}/v1/plan", json=b, timeout=60).json(), requests))
    calls = metric(url, "vp_model_calls_total") - calls_before
    assert calls < 8 and max(a["batch_plans"] for a in answers) > 1
    for i, answer in enumerate(answers):
        alone = models.planner.plan(scene(i), "open the door", seed=100 + i).frames
        batched = read_npz(base64.b64decode(answer["plans"][0]["data"]))[0]
        assert np.abs(alone.astype(int) - batched.astype(int)).max() <= 2


def test_actions_come_with_a_state_when_an_idm_is_loaded(url, models):
    answer = httpx.post(f"{url}/v1/plan", json=body(seed=1, state=[0.1, 0.6, 0.2, 0.5], num_samples=2), timeout=60)
    plans = answer.json()["plans"]
    assert len(plans) == 2 and all(np.asarray(p["actions"]).shape == (4, 4) for p in plans)
    first_frame = decode_png(plans[0]["frames"][1])
    expected = models.idm.actions(scene(), np.array([0.1, 0.6, 0.2, 0.5], np.float32), first_frame)
    np.testing.assert_allclose(plans[0]["actions"], expected, atol=1e-5)
    assert httpx.post(f"{url}/v1/plan", json=body(seed=1), timeout=60).json()["plans"][0]["actions"] is None


def test_a_non_finite_action_never_leaves_the_server(models):
    broken = InverseDynamics(models.idm.config).eval()
    for parameter in broken.parameters():
        parameter.data.fill_(float("nan"))
    with serving(ServedModels(models.planner, "tiny-planner", broken, "broken-idm")) as base:
        response = httpx.post(f"{base}/v1/plan", json=body(state=[0.1, 0.6, 0.2, 0.5]), timeout=60)
        assert response.status_code == 500 and response.json() == {
            "error": "the inverse-dynamics model produced a non-finite action; none returned"
        }
        assert httpx.post(f"{base}/v1/plan", json=body(), timeout=60).status_code == 200  # plans without actions


def test_a_multipart_upload_of_a_non_square_jpeg_is_cropped_and_planned(url):
    image = np.random.default_rng(2).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    files = {"image": ("camera.jpg", png(image, "JPEG"), "image/jpeg")}
    data = {"instruction": "open the door", "seed": "5", "state": "[0.1, 0.6, 0.2, 0.5]"}
    answer = httpx.post(f"{url}/v1/plan", files=files, data=data, timeout=60)
    assert answer.status_code == 200, answer.text
    assert answer.json()["plans"][0]["seed"] == 5 and answer.json()["plans"][0]["actions"] is not None


def test_models_health_readiness_metrics_and_docs(url):
    models = httpx.get(f"{url}/v1/models").json()
    assert models["planner"]["image_size"] == 32 and models["idm"]["state_dim"] == 4
    assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{url}/readyz").json() == {"ready": True}
    assert "/v1/plan" in httpx.get(f"{url}/openapi.json").json()["paths"]
    assert httpx.get(f"{url}/docs").status_code == 200
    assert 'id="instruction"' in httpx.get(f"{url}/").text
    text = httpx.get(f"{url}/metrics").text
    assert "vp_batch_plans_bucket" in text and 'vp_requests_total{route="/v1/plan",status="200"}' in text


def too_many_pixels() -> bytes:
    """A 20000×20000 PNG header (what the pixel limit must read before decoding anything)."""
    return png(Image.new("L", (20000, 20000)))


BAD_BODIES = {
    "not an image": (body(b"this is not an image"), "cannot read the image"),
    "truncated png": (body(png(scene())[:60]), "cannot read the image"),
    "1x1 pixels": (body(scene(size=1)), "send at least 8x8"),
    "too many pixels": (body(too_many_pixels()), "pixels allowed"),
    "16-bit image": (body(png(Image.fromarray(np.zeros((32, 32), np.uint16)))), "not 8 bits"),
    "not base64": ({"image": "%%%", "instruction": "x"}, "not valid base64"),
    "no image": ({"instruction": "open the door"}, "image: required"),
    "empty instruction": (body(instruction="   "), "instruction"),
    "100 kB instruction": (body(instruction="a" * 100_000), "instruction"),
    "steps 0": (body(steps=0), "steps"),
    "steps 10^6": (body(steps=10**6), "steps"),
    "NaN guidance": ('{"image": "", "instruction": "x", "guidance": NaN}', "guidance"),
    "negative seed": (body(seed=-1), "seed"),
    "unknown field": (body(colour="red"), "colour"),
    "state of the wrong size": (body(state=[1.0]), "state"),
    "unknown format": (body(format="gif"), "format"),
    "not JSON": ("{", "JSON"),
}


@pytest.mark.parametrize("case", BAD_BODIES, ids=list(BAD_BODIES))
def test_bad_input_gets_a_4xx_with_one_line_and_the_server_keeps_serving(url, case):
    request, fragment = BAD_BODIES[case]
    if isinstance(request, str):
        response = httpx.post(f"{url}/v1/plan", content=request, headers={"content-type": "application/json"})
    else:
        response = httpx.post(f"{url}/v1/plan", json=request, timeout=60)
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    error = response.json()["error"]
    assert fragment in error and "\n" not in error and "Traceback" not in error and "/work" not in error
    assert httpx.get(f"{url}/healthz").status_code == 200


def test_an_oversize_body_gets_413_before_it_is_read(models):
    with serving(models, max_body_bytes=2048) as base:
        response = httpx.post(f"{base}/v1/plan", json=body(scene(size=64)))
        assert response.status_code == 413 and "2048 bytes" in response.json()["error"]


def test_a_slow_loris_body_gets_408_and_the_server_keeps_serving(models):
    with serving(models, body_timeout_s=0.5) as base:
        host, port = base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as slow:
            slow.sendall(b"POST /v1/plan HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n")
            slow.sendall(b'Content-Length: 1000\r\n\r\n{"instruction": ')  # and then nothing
            assert httpx.get(f"{base}/healthz").status_code == 200  # answers while the slow body hangs
            reply = b""
            while b"}" not in reply:  # headers and the JSON body may come in separate segments
                reply += slow.recv(4096) or b"}"
        reply = reply.decode()
        assert reply.startswith("HTTP/1.1 408") and "did not arrive" in reply


def test_a_token_is_required_and_checked(models):
    with serving(models, token=TOKEN) as base:
        wait_ready(base)
        assert httpx.get(f"{base}/healthz").status_code == 200  # probes need no token
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            response = httpx.post(f"{base}/v1/plan", json=body(), headers=headers)
            assert response.status_code == 401 and "token" in response.json()["error"]
            assert httpx.get(f"{base}/v1/models", headers=headers).status_code == 401
        client = PlannerClient(base, token=TOKEN)
        assert client.plan(scene(), "open the door", seed=1).frames.shape == (3, 32, 32, 3)


def test_serving_off_loopback_without_a_token_is_refused(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("VP_API_TOKEN", raising=False)
    assert main(["serve", "--planner", str(tmp_path / "none"), "--host", "0.0.0.0"]) == 2
    assert "without a token" in capsys.readouterr().err
    monkeypatch.setenv("VP_API_TOKEN", "short")
    with pytest.raises(InputError, match="at least 16"):
        ServeSettings(host="0.0.0.0").token()
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    assert ServeSettings(host="0.0.0.0", token_file=str(token_file)).token() == TOKEN


def test_too_many_requests_from_one_client_get_429(models):
    with serving(models, rate_burst=2, rate_limit_per_minute=1.0) as base:
        wait_ready(base)
        statuses = [httpx.post(f"{base}/v1/plan", json=body(steps=1)).status_code for _ in range(3)]
        assert statuses[:2] == [200, 200] and statuses[2] == 429


def gated(models: ServedModels) -> tuple[ServedModels, threading.Event]:
    """The same models, whose model thread waits for the returned event before each call."""
    gate = threading.Event()

    class Gated(ServedModels):
        def answer(self, asks):
            gate.wait(timeout=60)
            return super().answer(asks)

    return Gated(models.planner, models.planner_id, models.idm, models.idm_id), gate


def test_a_full_queue_gets_503_with_retry_after_while_health_answers(models):
    slow, gate = gated(models)
    with serving(slow, max_queue=2, max_batch=1, max_samples=1, batch_window_ms=0.0) as base:
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            # the warm-up plan holds the model thread; two requests fill the queue
            waiting = [pool.submit(httpx.post, f"{base}/v1/plan", json=body(seed=i), timeout=60) for i in range(2)]
            for _ in range(200):
                if metric(base, "vp_queued_plans") >= 2:
                    break
                threading.Event().wait(0.02)
            refused = httpx.post(f"{base}/v1/plan", json=body(seed=9))
            assert httpx.get(f"{base}/healthz").status_code == 200 and httpx.get(f"{base}/readyz").status_code == 503
            gate.set()
            assert [w.result().status_code for w in waiting] == [200, 200]
        assert refused.status_code == 503 and int(refused.headers["Retry-After"]) >= 1
        assert "queue is full" in refused.json()["error"]


def test_a_request_not_planned_in_time_gets_504_and_leaves_the_queue(models):
    slow, gate = gated(models)
    with serving(slow, request_timeout_s=0.3) as base:
        response = httpx.post(f"{base}/v1/plan", json=body())
        assert response.status_code == 504 and "no plan within" in response.json()["error"]
        assert metric(base, "vp_queued_plans") == 0
        gate.set()


def test_the_batcher_sends_each_answer_to_its_own_request():
    """Unit level: three requests in one call; one answer is an exception and fails only its own request."""
    from video_planner.serving.batcher import Batcher

    calls = []

    def run(items):
        calls.append(list(items))
        return [ValueError("bad") if item == "b" else item.upper() for item in items]

    async def scenario():
        batcher = Batcher(run, window_s=0.05, max_rows=8, max_queued_rows=8)
        await batcher.start()
        results = await asyncio.gather(
            *(batcher.submit(item, rows=1, timeout_s=5) for item in "abc"), return_exceptions=True
        )
        await batcher.stop()
        return results

    results = asyncio.run(scenario())
    assert calls == [["a", "b", "c"]]
    assert results[0][0] == "A" and results[2][0] == "C" and isinstance(results[1], ValueError)


FUZZ_SETTINGS = hypothesis.settings(max_examples=40, deadline=None, suppress_health_check=list(hypothesis.HealthCheck))


def test_requests_generated_from_the_openapi_schema_never_get_a_5xx(url):
    """A bounded schemathesis run: bodies, fields and headers drawn from the published schema, valid or not;
    every answer is below 500, and every refusal is one line of JSON."""
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    calls = collections.Counter()
    for result in schema.get_all_operations():
        operation = result.ok()

        @hypothesis.given(case=operation.as_strategy())
        @FUZZ_SETTINGS
        def check(case):
            response = case.call(timeout=60)
            calls[case.operation.label, response.status_code // 100] += 1
            assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:300])
            if response.status_code >= 400:
                assert set(response.json()) == {"error"} and "\n" not in response.json()["error"]

        check()
    print(f"schemathesis: {sum(calls.values())} requests, by operation and status class: {dict(calls)}")
    assert {label for label, _ in calls} >= {"POST /v1/plan", "GET /v1/models", "GET /metrics"}


VALID_IMAGE = body()["image"]
number = hypothesis.strategies.one_of(
    hypothesis.strategies.integers(-3, 12),
    hypothesis.strategies.integers(),
    hypothesis.strategies.floats(allow_nan=True, allow_infinity=True),
    hypothesis.strategies.text(max_size=4),
    hypothesis.strategies.none(),
)


@hypothesis.given(
    fields=hypothesis.strategies.fixed_dictionaries(
        {"image": hypothesis.strategies.just(VALID_IMAGE), "instruction": hypothesis.strategies.text(max_size=40)},
        optional={
            "seed": number,
            "steps": number,
            "num_samples": number,
            "guidance": number,
            "format": hypothesis.strategies.sampled_from(["png", "mp4", "npz", "gif", ""]),
            "state": hypothesis.strategies.one_of(hypothesis.strategies.lists(number, max_size=5), number),
        },
    )
)
@FUZZ_SETTINGS
def test_fields_around_a_valid_image_get_a_plan_or_a_4xx(url, fields):
    """The schema fuzz above never gets past the image; here the image is valid and every other field varies."""
    headers = {"content-type": "application/json"}  # json.dumps writes NaN and Infinity, as a careless client would
    response = httpx.post(f"{url}/v1/plan", content=json.dumps(fields), headers=headers, timeout=60)
    assert response.status_code == 200 or 400 <= response.status_code < 500, response.text[:300]
    if response.status_code != 200:
        assert set(response.json()) == {"error"} and "\n" not in response.json()["error"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_vp_serve_loads_saved_models_and_logs_json_lines(models, tmp_path):
    """The command as a user runs it: models from directories, a real process, one JSON access line per request."""
    models.planner.save_pretrained(tmp_path / "planner")
    models.idm.save_pretrained(tmp_path / "idm")
    port = free_port()
    command = [sys.executable, "-m", "video_planner.cli", "serve", "--planner", str(tmp_path / "planner")]
    command += ["--idm", str(tmp_path / "idm"), "--port", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(1200):
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            assert server.poll() is None, server.stderr.read()
            threading.Event().wait(0.05)
        answer = httpx.post(f"{base}/v1/plan", json=body(seed=7, state=[0.1, 0.6, 0.2, 0.5]), timeout=60).json()
        assert answer["models"] == {"planner": str(tmp_path / "planner"), "prior": None, "idm": str(tmp_path / "idm")}
        local = models.planner.plan(scene(), "open the door", seed=7).frames[0]
        np.testing.assert_array_equal(decode_png(answer["plans"][0]["frames"][1]), local)
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert {"path": "/v1/plan", "status": 200} in [{k: line[k] for k in ("path", "status")} for line in lines]
