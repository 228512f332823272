"""The planning API's request and response bodies, as pydantic models: FastAPI validates with them and
writes them into the OpenAPI schema."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from video_planner.serving.codec import PLAN_FORMATS

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
MAX_SEED = 2**63 - 1


class PlanQuery(BaseModel):
    """A plan request. JSON bodies carry the image as base64; multipart bodies send it as the file part `image`
    and the other fields as form fields (`state` as a JSON list)."""

    model_config = ConfigDict(extra="forbid")

    instruction: str = Field(description="what to do, e.g. 'open the door'", examples=["open the door"])
    image: str | None = Field(
        None, description="the camera image, base64 PNG or JPEG (a data: URL works); cropped to its centred square"
    )
    seed: int | None = Field(None, ge=0, le=MAX_SEED, description="the plan's noise; unset: a random one, reported")
    steps: int | None = Field(None, ge=1, description="denoising steps; unset: the planner's default")
    num_samples: int = Field(1, ge=1, description="plans drawn for this request")
    guidance: FiniteFloat | None = Field(None, ge=0, description="classifier-free guidance; unset: the planner's")
    format: Literal[PLAN_FORMATS] = Field(
        "png", description="png: frames as base64 PNGs; mp4: one H.264 video; npz: the exact uint8 frames"
    )
    state: list[FiniteFloat] | None = Field(
        None, max_length=1024, description="the robot state; with an IDM loaded the response carries actions"
    )


class PlanOut(BaseModel):
    seed: int = Field(description="the seed that reproduces this plan")
    steps: int
    guidance: float
    sampler: str
    frames: list[str] | None = Field(None, description="png: base64 PNGs, the (resized) camera image first")
    data: str | None = Field(None, description="mp4 or npz: the base64 file")
    actions: list[list[float]] | None = Field(
        None,
        description="(chunk_size, action_dim): the IDM's actions from the given image and state toward "
        "the plan's first frame; execute them, then ask again",
    )


class PlanResponse(BaseModel):
    instruction: str
    format: str
    image_size: int = Field(description="the side of the square plan frames")
    plans: list[PlanOut]
    models: dict[str, str | None] = Field(description="ids of the planner, prior and IDM that answered")
    latency_s: float = Field(description="server time from request to response")
    queue_s: float = Field(description="time the request waited for its model call")
    batch_plans: int = Field(description="plans in the model call that served this request")


class ErrorResponse(BaseModel):
    error: str = Field(description="one line: what is wrong and how to fix it")
