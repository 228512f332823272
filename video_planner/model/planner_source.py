"""Which planner to load and how to compose it with a prior, as settings: import-light (no torch), so `vp eval`,
`vp sail` and their `--help` read one definition. `loading.load_planner` turns it into a `Planner`."""

import typing
from dataclasses import dataclass
from typing import Literal

from foundation.config_io import check_ranges, ranged
from foundation.errors import InputError
from video_planner.model.config import MAX_SAMPLING_STEPS

CompositionMode = Literal["pa", "ipa"]
MODES: tuple[str, ...] = typing.get_args(CompositionMode)


@dataclass(frozen=True, kw_only=True)
class PlannerSource:
    planner: str  # planner directory or Hub repo id (`vp eval` also takes 'oracle': the scripted expert's frames)
    # a video prior composed with the planner at every denoising step: a planner directory (or Hub id) in the
    # same latent space, or a Stable Diffusion base with prior_motion_adapter; unset: the planner alone
    prior: str | None = None
    prior_motion_adapter: str | None = None  # an AnimateDiff motion adapter (Hub id or directory) for the prior
    mode: CompositionMode = "ipa"  # how to compose with the prior: pa (Video Adapter) or ipa (Adapt2Act)
    prior_strength: float | None = ranged(None, "[0, inf)")  # γ of the composition; unset: pa 0.1, ipa 0.5
    composition_guidance: float | None = ranged(None, "[0, inf)")  # α of the composition; unset: 2.5
    sampling_steps: int | None = ranged(
        None, f"[1, {MAX_SAMPLING_STEPS}]"
    )  # denoising steps per plan; unset: the planner config's
    # classifier-free guidance of each plan (1 turns it off); unset: the planner config's (with --prior,
    # --composition-guidance guides instead)
    guidance_scale: float | None = ranged(None, "[1, inf)")
    device: str | None = None  # where the models run; unset: cuda when there is one, else cpu

    def __post_init__(self):
        if self.mode not in MODES:
            raise InputError(f"unknown composition mode {self.mode!r}; valid: {', '.join(MODES)}")
        needs_prior = {
            "prior_motion_adapter": self.prior_motion_adapter,
            "prior_strength": self.prior_strength,
            "composition_guidance": self.composition_guidance,
        }
        given = [f"--{name.replace('_', '-')}" for name, value in needs_prior.items() if value is not None]
        if self.prior is None and given:
            verb = "needs" if len(given) == 1 else "need"
            raise InputError(f"{', '.join(given)} {verb} --prior, the prior to compose with")
        if self.prior is not None and self.guidance_scale is not None:
            raise InputError("--guidance-scale guides a planner alone; with --prior give --composition-guidance")
        check_ranges(self, "planner", PlannerSource)

    def composition(self) -> dict:
        """The keyword arguments of `ComposedPlanner` these settings fix (the rest keep their defaults)."""
        values = {"mode": self.mode, "prior_strength": self.prior_strength, "guidance": self.composition_guidance}
        return {key: value for key, value in values.items() if value is not None}
