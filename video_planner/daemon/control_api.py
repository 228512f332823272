"""The daemon's control interface over HTTP (loopback by default; a token off loopback):

POST /start {"instruction": "open the door"}    409 while an episode runs
POST /stop                                       ends the episode after the tick in progress
POST /estop                                      nothing more is sent once it answers
GET  /status                                     state, instruction, episodes, steps, actions, plan age,
                                                 holds and guard counts by reason, last error
GET  /healthz
"""

from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from foundation.errors import InputError
from video_planner.daemon.daemon import Daemon
from video_planner.serving.app import answer_errors_in_one_line, token_check
from video_planner.serving.guards import AccessLog

MAX_INSTRUCTION_CHARS = 500


class StartRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    instruction: str = Field(min_length=1, max_length=MAX_INSTRUCTION_CHARS, description="what to do")
    scene_seed: int | None = Field(None, ge=0, description="simulated robots: set up this scene first")


def create_control_app(daemon: Daemon, token: str | None) -> FastAPI:
    app = FastAPI(title="video-planner daemon", version="1", summary="Start, stop and watch the robot's episodes.")
    answer_errors_in_one_line(app)
    guarded = [Depends(token_check(token))]

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/status", dependencies=guarded)
    def status() -> dict:
        return daemon.status()

    @app.post("/start", dependencies=guarded)
    def start(request: StartRequest) -> dict:
        try:
            daemon.start(request.instruction, request.scene_seed)
        except InputError as err:
            raise HTTPException(409 if "running" in str(err) else 422, str(err)) from None
        return daemon.status()

    @app.post("/stop", dependencies=guarded)
    def stop() -> dict:
        daemon.stop()
        return daemon.status()

    @app.post("/estop", dependencies=guarded)
    def estop() -> dict:
        daemon.estop()
        return daemon.status()

    app.add_middleware(AccessLog)
    return app
