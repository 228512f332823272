"""The models a planning server holds, and the one function its model thread runs: a batch of plan requests
in, their plans (and, with an inverse-dynamics model and a robot state, the first action chunk) out."""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from inverse_dynamics.model import InverseDynamics
from robot_io.safety import UnsafeActionError
from video_planner.control.agent import check_compatible
from video_planner.model.composition import ComposedPlanner
from video_planner.model.loading import load_planner
from video_planner.model.planner_source import PlannerSource
from video_planner.model.protocols import BatchPlanner, PlanRequest, VideoPlan


@dataclass(frozen=True)
class PlanAsk:
    request: PlanRequest
    state: np.ndarray | None = None  # (S,) float32; with an IDM loaded, asks for actions too


@dataclass(frozen=True)
class PlanAnswer:
    plans: list[VideoPlan]
    # per plan, the IDM's chunk from the request's image and state toward the plan's first frame: (k, A)
    actions: list[np.ndarray] | None


@dataclass
class ServedModels:
    planner: BatchPlanner
    planner_id: str  # the directory or Hub id it was loaded from
    idm: InverseDynamics | None = None
    idm_id: str | None = None
    prior_id: str | None = None
    trained_tasks: tuple[str, ...] = ()  # the in-domain planner's, so clients see what is zero-shot

    @classmethod
    def load(cls, source: PlannerSource, idm: str | None = None) -> "ServedModels":
        """The planner `source` names (composed with its prior, if any) and the IDM, checked to fit each other."""
        planner = load_planner(source)
        in_domain = planner.in_domain if isinstance(planner, ComposedPlanner) else planner
        model = None
        if idm is not None:
            model = InverseDynamics.from_pretrained(idm).to(in_domain.device)
            check_compatible(planner, model)
        return cls(planner, source.planner, model, idm, source.prior, in_domain.trained_tasks)

    def describe(self) -> dict:
        """What `GET /v1/models` shows: ids and the shapes a client needs."""
        config = self.planner.config
        models = {
            "planner": {
                "id": self.planner_id,
                "prior": self.prior_id,
                "image_size": config.image_size,
                "num_future_frames": config.num_future_frames,
                "frame_stride": config.frame_stride,
                "sampling_steps": config.sampling_steps,
                "trained_tasks": list(self.trained_tasks),
            },
            "idm": None,
        }
        if self.idm is not None:
            idm = self.idm.config
            models["idm"] = {
                "id": self.idm_id,
                "state_dim": idm.state_dim,
                "action_dim": idm.action_dim,
                "chunk_size": idm.chunk_size,
                "action_bounds": [idm.action_low, idm.action_high],
            }
        return models

    def answer(self, asks: Sequence[PlanAsk]) -> list[PlanAnswer | UnsafeActionError]:
        """Runs in the model's thread: one `plan_batch` for all asks, then the IDM for those with a state. An
        IDM that produces a non-finite action fails only its own ask: no such action leaves the server."""
        plans = self.planner.plan_batch([ask.request for ask in asks])
        return [self._with_actions(ask, request_plans) for ask, request_plans in zip(asks, plans, strict=True)]

    def _with_actions(self, ask: PlanAsk, plans: list[VideoPlan]) -> PlanAnswer | UnsafeActionError:
        if ask.state is None or self.idm is None:
            return PlanAnswer(plans, None)
        try:
            return PlanAnswer(plans, [self.idm.actions(ask.request.image, ask.state, plan.frames[0]) for plan in plans])
        except UnsafeActionError as err:
            return err
