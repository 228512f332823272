"""The planning API as a FastAPI app: `create_app(models, settings, token)`; `vp serve` runs it with uvicorn.

    POST /v1/plan     camera image + instruction -> plans (and actions with an IDM and a state)
    GET  /v1/models   what is loaded          GET /metrics   Prometheus text
    GET  /healthz     the process answers     GET /readyz    models loaded and warmed up by one plan
    GET  /            a page to try it        GET /docs      the OpenAPI docs

Every value that enters is checked here, and every refusal is one line of JSON `{"error": ...}` with a 4xx;
the model runs in the batcher's thread, so the event loop keeps answering while it plans.
"""

import asyncio
import hmac
import json
import logging
import math
import time
from contextlib import asynccontextmanager
from importlib.resources import files
from typing import Annotated

import numpy as np
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from foundation.errors import InputError
from robot_io.safety import UnsafeActionError
from video_planner.model.protocols import PlanRequest
from video_planner.serving.batcher import Batcher, ModelFault, QueueFull
from video_planner.serving.codec import camera_image, decode_base64, encode_plan
from video_planner.serving.guards import AccessLog, BodyLimit, RateLimiter
from video_planner.serving.metrics import ServerMetrics
from video_planner.serving.schemas import ErrorResponse, PlanOut, PlanQuery, PlanResponse
from video_planner.serving.served_models import PlanAnswer, PlanAsk, ServedModels
from video_planner.serving.settings import ServeSettings

logger = logging.getLogger(__name__)
ROUTES = ("/", "/healthz", "/readyz", "/metrics", "/v1/models", "/v1/plan", "/docs", "/openapi.json")
ERRORS = {status: {"model": ErrorResponse} for status in (401, 408, 413, 422, 429, 503, 504)}


def token_check(token: str | None):
    """A FastAPI dependency that admits requests carrying `Authorization: Bearer <token>` (all, when None)."""
    bearer = HTTPBearer(auto_error=False, description="the server's bearer token")

    def authorized(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
        if token is None:
            return
        given = credentials.credentials if credentials is not None else ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise HTTPException(
                401, "missing or wrong token; send 'Authorization: Bearer <token>'", {"WWW-Authenticate": "Bearer"}
            )

    return authorized


def answer_errors_in_one_line(app: FastAPI) -> None:
    """Every error response of `app` is `{"error": "<one line>"}`: HTTP errors with their detail, validation
    errors with the first problem, anything unexpected as a 500 with no traceback (that goes to the log)."""

    @app.exception_handler(StarletteHTTPException)  # FastAPI's and Starlette's own (a malformed multipart body)
    async def http_error(request: Request, err: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(err.detail)}, err.status_code, headers=err.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, err: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": one_line(err)}, 422)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, err: Exception) -> JSONResponse:
        logger.error("unhandled error on %s", request.url.path, exc_info=err)
        return JSONResponse({"error": "internal error; the server log has the details"}, 500)


def one_line(err: ValidationError | RequestValidationError) -> str:
    """A pydantic error list as one line: the first problem, where it is, and how many more there are."""
    errors = err.errors()
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"] if part != "body") or "body"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}"


def create_app(models: ServedModels, settings: ServeSettings, token: str | None) -> FastAPI:
    metrics = ServerMetrics()
    batcher = Batcher(
        models.answer,
        window_s=settings.batch_window_ms / 1000,
        max_rows=settings.max_batch,
        max_queued_rows=settings.max_queue,
        on_call=metrics.model_call,
    )
    limiter = RateLimiter(settings.rate_limit_per_minute, settings.rate_burst)
    readiness = {"ready": False, "problem": "warming up: the first plan has not finished"}

    async def warm_up() -> None:
        """One plan through the whole path, so the first client does not pay for lazy initialisation."""
        size = models.planner.config.image_size
        ask = PlanAsk(PlanRequest(np.full((size, size, 3), 128, np.uint8), "warm up", seed=0))
        try:
            await batcher.submit(ask, rows=1, timeout_s=max(settings.request_timeout_s, 600))
            readiness.update(ready=True, problem=None)
        except Exception as err:  # reported by /readyz; the server stays up to say so
            logger.exception("warm-up plan failed")
            readiness["problem"] = f"the warm-up plan failed: {err}"

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await batcher.start()
        warming = asyncio.create_task(warm_up())
        yield
        warming.cancel()
        await batcher.stop()

    app = FastAPI(
        title="video-planner",
        summary="Camera image + instruction -> an imagined video plan (and actions).",
        version="1",
        lifespan=lifespan,
    )
    authorized = token_check(token)

    def within_rate(request: Request) -> None:
        wait = limiter.retry_after(request.client.host if request.client else "unknown")
        if wait is not None:
            seconds = math.ceil(wait)
            raise HTTPException(429, f"too many requests; retry in {seconds} s", {"Retry-After": str(seconds)})

    answer_errors_in_one_line(app)

    @app.get("/", include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(files("video_planner.serving").joinpath("page.html").read_text())

    @app.get("/healthz", summary="The process answers")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz", summary="Models loaded and warmed up", responses={503: {"model": ErrorResponse}})
    async def readyz() -> JSONResponse:
        if readiness["ready"]:
            return JSONResponse({"ready": True})
        return JSONResponse({"error": readiness["problem"]}, 503)

    @app.get("/v1/models", summary="The loaded models", dependencies=[Depends(authorized)], responses=ERRORS)
    async def list_models() -> dict:
        return models.describe()

    @app.get("/metrics", summary="Prometheus metrics", dependencies=[Depends(authorized)], responses=ERRORS)
    async def prometheus() -> Response:
        metrics.queued_plans.set(batcher.queued_rows)
        return Response(metrics.exposition(), media_type="text/plain; version=0.0.4")

    @app.post(
        "/v1/plan",
        summary="Imagine the instruction being done from the camera image",
        dependencies=[Depends(authorized), Depends(within_rate)],
        responses=ERRORS,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": PlanQuery.model_json_schema()},
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "required": ["image", "instruction"],
                            "properties": {
                                "image": {"type": "string", "format": "binary"},
                                **{k: {"type": "string"} for k in PlanQuery.model_fields if k != "image"},
                            },
                        }
                    },
                },
            }
        },
    )
    async def plan(request: Request) -> PlanResponse:
        start = time.perf_counter()
        query, image_bytes = await read_query(request)
        ask = checked_ask(query, image_bytes, models, settings)
        try:
            answer, waited, rows = await batcher.submit(ask, query.num_samples, settings.request_timeout_s)
        except QueueFull as full:
            raise HTTPException(503, str(full), {"Retry-After": str(full.retry_after_s)}) from None
        except TimeoutError:
            raise HTTPException(504, f"no plan within {settings.request_timeout_s:g} s; retry later") from None
        except ModelFault:
            raise HTTPException(500, "planning failed; the server log has the details") from None
        except UnsafeActionError:
            raise HTTPException(500, "the inverse-dynamics model produced a non-finite action; none returned") from None
        plans = await run_in_threadpool(encoded_plans, answer, query.format)
        latency = time.perf_counter() - start
        metrics.plan_seconds.observe(latency)
        metrics.queue_seconds.observe(waited)
        return PlanResponse(
            instruction=query.instruction,
            format=query.format,
            image_size=models.planner.config.image_size,
            plans=plans,
            models={"planner": models.planner_id, "prior": models.prior_id, "idm": models.idm_id},
            latency_s=latency,
            queue_s=waited,
            batch_plans=rows,
        )

    def count(path: str, status: int) -> None:
        metrics.requests.labels(path if path in ROUTES else "other", str(status)).inc()

    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["*"],
        )
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes, timeout_s=settings.body_timeout_s)
    app.add_middleware(AccessLog, on_response=count)
    return app


async def read_query(request: Request) -> tuple[PlanQuery, bytes]:
    """The request's fields and image bytes, from a JSON body or a multipart form."""
    content_type = request.headers.get("content-type", "")
    try:
        if content_type.startswith("multipart/form-data"):
            form = await request.form(max_files=1, max_fields=len(PlanQuery.model_fields))
            upload = form.get("image")
            if not isinstance(upload, UploadFile):
                raise InputError("image: send the camera image as the file part 'image'")
            fields = {key: value for key, value in form.items() if key != "image"}
            if "state" in fields:
                fields["state"] = json.loads(fields["state"])
            return PlanQuery.model_validate(fields), await upload.read()
        if not content_type.startswith("application/json"):
            raise HTTPException(415, "send application/json (base64 image) or multipart/form-data (image file)")
        query = PlanQuery.model_validate_json(await request.body())
    except ValidationError as err:
        raise HTTPException(422, one_line(err)) from None
    except json.JSONDecodeError:
        raise HTTPException(422, "state: not a JSON list of numbers") from None
    except InputError as err:
        raise HTTPException(422, str(err)) from None
    if query.image is None:
        raise HTTPException(422, "image: required (base64 PNG or JPEG)")
    try:
        return query, decode_base64(query.image, "image")
    except InputError as err:
        raise HTTPException(422, str(err)) from None


def checked_ask(query: PlanQuery, image_bytes: bytes, models: ServedModels, settings: ServeSettings) -> PlanAsk:
    """The request as the model thread takes it, after the server's limits: a refusal is a 4xx naming the fix."""
    problems = {
        "instruction": (
            not query.instruction.strip() or len(query.instruction) > settings.max_instruction_chars,
            f"give 1 to {settings.max_instruction_chars} characters",
        ),
        "steps": (query.steps is not None and query.steps > settings.max_steps, f"at most {settings.max_steps}"),
        "num_samples": (query.num_samples > settings.max_samples, f"at most {settings.max_samples}"),
    }
    for name, (bad, fix) in problems.items():
        if bad:
            raise HTTPException(422, f"{name}: {fix}")
    state = None
    if query.state is not None:
        if models.idm is None:
            raise HTTPException(422, "state: this server has no inverse-dynamics model; start it with --idm")
        if len(query.state) != models.idm.config.state_dim:
            raise HTTPException(422, f"state: {len(query.state)} values, the IDM takes {models.idm.config.state_dim}")
        state = np.asarray(query.state, dtype=np.float32)
    try:
        image = camera_image(image_bytes, settings.max_image_pixels)
    except InputError as err:
        raise HTTPException(422, str(err)) from None
    options = dict(seed=query.seed, steps=query.steps, guidance=query.guidance, num_samples=query.num_samples)
    return PlanAsk(PlanRequest(image, query.instruction, **options), state)


def encoded_plans(answer: PlanAnswer, fmt: str) -> list[PlanOut]:
    actions = answer.actions or [None] * len(answer.plans)
    return [
        PlanOut(
            seed=plan.seed,
            steps=plan.steps,
            guidance=plan.guidance,
            sampler=plan.sampler,
            actions=None if chunk is None else chunk.tolist(),
            **encode_plan(plan.frames, plan.context_frame, fmt),
        )
        for plan, chunk in zip(answer.plans, actions, strict=True)
    ]
