"""Running the planning API with uvicorn: `serve` in the foreground (`vp serve`), `running_server` in a thread
(tests and `vp bench serve` talk to a real server over a real socket)."""

import contextlib
import logging
import sys
import threading
import time
from collections.abc import Iterator

import uvicorn

from video_planner.model.planner_source import PlannerSource
from video_planner.serving.app import create_app
from video_planner.serving.guards import access_logger
from video_planner.serving.served_models import ServedModels
from video_planner.serving.settings import ServeSettings

CONNECTIONS_BEYOND_QUEUE = 64  # open requests uvicorn admits past the queue size before its own 503


def uvicorn_config(app, settings: ServeSettings) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        access_log=False,  # ours is JSON (guards.AccessLog)
        log_level="warning",
        timeout_keep_alive=5,
        limit_concurrency=settings.max_queue + CONNECTIONS_BEYOND_QUEUE,
        server_header=False,
    )


def serve(source: PlannerSource, idm: str | None, settings: ServeSettings) -> None:
    """Checks the token rule, loads the models, and serves until interrupted."""
    token = settings.token()  # before loading: a refused start costs nothing
    models = ServedModels.load(source, idm)
    log_access_as_json_lines()
    where = f"http://{settings.host}:{settings.port}"
    print(f"serving {source.planner} on {where} (docs: {where}/docs; token {'required' if token else 'off'})")
    uvicorn.Server(uvicorn_config(create_app(models, settings, token), settings)).run()


def log_access_as_json_lines() -> None:
    """The access log (one JSON line per request) on stderr, alone: not through the root logger's format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    access_logger.addHandler(handler)
    access_logger.setLevel(logging.INFO)
    access_logger.propagate = False


@contextlib.contextmanager
def running_server(app, settings: ServeSettings, start_timeout_s: float = 60.0) -> Iterator[str]:
    """Serves `app` from a thread while the block runs; yields its base URL (port 0 picks a free one)."""
    server = uvicorn.Server(uvicorn_config(app, settings))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the server did not start on {settings.host}:{settings.port}")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{settings.host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
