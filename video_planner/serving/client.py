"""`PlannerClient`: a planning server as a `Planner`, so a robot stack (the daemon, the Agent) switches from a
local planner to a remote one by one argument.

    planner = PlannerClient("http://gpu-box:8000", token=os.environ["VP_API_TOKEN"])
    plan = planner.plan(image, "open the door", seed=0)    # a VideoPlan, exact frames (npz on the wire)
"""

import base64
import io
import time
from dataclasses import dataclass

import httpx
import numpy as np
from PIL import Image

from foundation.camera_image import check_camera_image
from foundation.errors import InputError
from video_planner.model.protocols import VideoPlan
from video_planner.serving.codec import read_npz


@dataclass(frozen=True)
class RemotePlanShape:
    """The served planner's `PlanShape`, read once from `GET /v1/models`."""

    image_size: int
    num_future_frames: int
    frame_stride: int


class PlannerUnavailable(RuntimeError):
    """The server could not be reached, or kept answering 503 through every retry."""


class PlannerClient:
    def __init__(self, url: str, token: str | None = None, *, timeout_s: float = 60.0, retries: int = 3):
        """`retries`: how often a 503 (queue full) or a refused connection is retried, waiting as the server's
        Retry-After says (or 1, 2, 4 s)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url, self.retries = url.rstrip("/"), retries
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout_s)
        self._config: RemotePlanShape | None = None

    @property
    def config(self) -> RemotePlanShape:
        if self._config is None:
            planner = self._call("GET", "/v1/models")["planner"]
            self._config = RemotePlanShape(planner["image_size"], planner["num_future_frames"], planner["frame_stride"])
        return self._config

    def plan(
        self,
        image: np.ndarray,
        instruction: str,
        *,
        seed: int | None = None,
        steps: int | None = None,
        guidance: float | None = None,
    ) -> VideoPlan:
        """As `VideoPlanner.plan`, planned by the server; the frames are exact (npz on the wire)."""
        return self.plan_samples(image, instruction, 1, seed=seed, steps=steps, guidance=guidance)[0]

    def plan_samples(self, image: np.ndarray, instruction: str, num_samples: int, **options) -> list[VideoPlan]:
        start = time.perf_counter()
        buffer = io.BytesIO()
        Image.fromarray(check_camera_image(image)).save(buffer, format="PNG")
        body = {
            "image": base64.b64encode(buffer.getvalue()).decode(),
            "instruction": instruction,
            "num_samples": num_samples,
            "format": "npz",
            **{key: value for key, value in options.items() if value is not None},
        }
        answer = self._call("POST", "/v1/plan", json=body)
        latency = time.perf_counter() - start
        plans = []
        for plan in answer["plans"]:
            frames, context_frame = read_npz(base64.b64decode(plan["data"]))
            plans.append(
                VideoPlan(
                    frames,
                    context_frame,
                    instruction,
                    plan["sampler"],
                    plan["steps"],
                    plan["guidance"],
                    plan["seed"],
                    latency,
                )
            )
        return plans

    def _call(self, method: str, path: str, **kwargs) -> dict:
        """The JSON answer; a 4xx is an `InputError` with the server's one line, a 503 or a refused connection
        is retried, then `PlannerUnavailable`."""
        for attempt in range(self.retries + 1):
            try:
                response = self.http.request(method, path, **kwargs)
            except httpx.TransportError as err:
                problem, wait = f"cannot reach {self.url}: {err}", 2.0**attempt
            else:
                if response.status_code == 503:
                    problem = _error_line(response)  # ours is JSON, uvicorn's own connection limit plain text
                    wait = float(response.headers.get("Retry-After", 2.0**attempt))
                elif response.is_success:
                    return response.json()
                elif 400 <= response.status_code < 500:
                    raise InputError(f"the planning server refused the request: {_error_line(response)}")
                else:
                    raise PlannerUnavailable(f"the planning server failed: {_error_line(response)}")
            if attempt < self.retries:
                time.sleep(wait)
        raise PlannerUnavailable(f"{problem} (after {self.retries} retries)")

    def close(self) -> None:
        self.http.close()


def _error_line(response: httpx.Response) -> str:
    try:
        return f"{response.status_code} {response.json()['error']}"
    except (ValueError, KeyError, TypeError):
        return f"{response.status_code} {response.text[:200]}"
