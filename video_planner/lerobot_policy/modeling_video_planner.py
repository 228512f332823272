"""The planner and the IDM as a LeRobot policy: `lerobot-eval` and `lerobot-rollout` run our Agent.

A policy directory holds LeRobot's `config.json` and processor files, and the planner and the IDM in their own
directories (`planner/`, `idm/`) as `vp` writes them: safetensors and JSON, loadable on their own too.

    policy = VideoPlannerPolicy.from_pretrained("outputs/lerobot/avdc11")   # or a Hub repo id
    preprocessor, postprocessor = make_pre_post_processors(policy.config, "outputs/lerobot/avdc11")
    action = postprocessor(policy.select_action(preprocessor(observation)))  # (B, A)

Each env of a batch gets its own Agent (plan → IDM chunk → replan every `replan_every` steps or on a stall);
`reset()` starts new episodes, and the plans of episode e in env b draw their noise from (seed, e, b).
"""

import dataclasses
from pathlib import Path

import numpy as np
import torch
from lerobot.configs import PreTrainedConfig
from lerobot.policies.pretrained import PreTrainedPolicy
from lerobot.utils.constants import ACTION, OBS_STATE

from foundation.errors import InputError
from foundation.hub import require_files, resolve_model_directory
from inverse_dynamics.model import InverseDynamics
from robot_io.types import Observation
from video_planner.control.agent import Agent, check_compatible, refuse_mismatch
from video_planner.lerobot_policy.configuration_video_planner import POLICY_TYPE, VideoPlannerConfig
from video_planner.lerobot_policy.processor_video_planner import make_video_planner_pre_post_processors
from video_planner.model.planner import VideoPlanner

PLANNER_DIR, IDM_DIR = "planner", "idm"  # inside a policy directory
EPISODE_SEED_STRIDE = 10_000  # env b of episode e plans with agent seed: seed + e·stride + b


class VideoPlannerPolicy(PreTrainedPolicy):
    """Plans with a video planner and acts with inverse dynamics, one Agent per env of the batch."""

    config_class = VideoPlannerConfig
    name = POLICY_TYPE

    def __init__(
        self,
        config: VideoPlannerConfig,
        planner: VideoPlanner | None = None,
        idm: InverseDynamics | None = None,
        **_lerobot_kwargs,
    ):
        """`_lerobot_kwargs`: what LeRobot's `make_policy` passes every policy (dataset statistics and
        metadata); the planner and the IDM carry their own normalisation, so they are not needed."""
        super().__init__(config)
        if planner is None or idm is None:
            raise InputError(
                "a video_planner policy is built from a trained planner and IDM: load a policy directory with "
                "--policy.path=DIR (write one with `vp export-lerobot`)"
            )
        check_compatible(planner, idm)
        check_matches_config(config, planner, idm)
        if config.sampling_steps is not None:
            planner.config = dataclasses.replace(planner.config, sampling_steps=config.sampling_steps)
        self.planner, self.idm = planner, idm
        self._agents: list[Agent] = []
        self._episode = -1
        self.reset()

    @classmethod
    def from_pretrained(
        cls,
        pretrained_name_or_path: str | Path,
        *,
        config: VideoPlannerConfig | None = None,
        revision: str | None = None,
        **kwargs,
    ) -> "VideoPlannerPolicy":
        """A policy directory or Hub repo id: its config (or `config`, as `lerobot-eval` passes with its CLI
        overrides applied), `planner/` and `idm/`. Hub download options other than `revision` are ignored."""
        directory = resolve_model_directory(pretrained_name_or_path, revision, "video_planner policy")
        require_files(directory, ("config.json",), "video_planner policy")
        for part in (PLANNER_DIR, IDM_DIR):
            if not (directory / part).is_dir():
                raise InputError(
                    f"video_planner policy {directory} has no {part}/ directory; write the policy with "
                    "`vp export-lerobot --planner DIR --idm DIR --output DIR`"
                )
        config = config or PreTrainedConfig.from_pretrained(directory)
        if not isinstance(config, VideoPlannerConfig):
            raise InputError(f"{directory} holds a {config.type!r} policy, not a {POLICY_TYPE!r} one")
        planner = VideoPlanner.from_pretrained(directory / PLANNER_DIR)
        idm = InverseDynamics.from_pretrained(directory / IDM_DIR)
        policy = cls(config, planner=planner, idm=idm, **kwargs)
        policy.to(config.device)
        return policy.eval()

    def _save_pretrained(self, save_directory: Path, state_dict=None) -> None:
        """config.json, the processors' files, `planner/` and `idm/`: everything `lerobot-eval` loads."""
        if state_dict is not None:
            raise InputError("a video_planner policy saves its planner and IDM directories, not a gathered state")
        self.config._save_pretrained(save_directory)
        for pipeline in make_video_planner_pre_post_processors(self.config):
            pipeline.save_pretrained(save_directory)
        self.planner.save_pretrained(save_directory / PLANNER_DIR)
        self.idm.save_pretrained(save_directory / IDM_DIR)

    def get_optim_params(self) -> dict:
        return self.parameters()

    def forward(self, batch: dict[str, torch.Tensor]):
        raise NotImplementedError(
            "a video_planner policy is not trained through lerobot-train: train its planner with `vp train` and "
            "its IDM with `vp train-idm`, then `vp export-lerobot`"
        )

    def reset(self) -> None:
        """Starts new episodes: the next batch gets fresh agents, seeded by the episode count."""
        self._episode += 1
        self._agents = []

    @torch.no_grad()
    def select_action(self, batch: dict[str, torch.Tensor], **kwargs) -> torch.Tensor:
        """One action per env, (B, A), from each env's Agent (a new plan or IDM chunk when it is due)."""
        actions = [agent.act(observation) for agent, observation in self._each_env(batch)]
        return torch.as_tensor(np.stack(actions), device=batch[OBS_STATE].device)  # (B, A)

    @torch.no_grad()
    def predict_action_chunk(self, batch: dict[str, torch.Tensor], **kwargs) -> torch.Tensor:
        """The next IDM chunk per env, (B, k, A); the agents count its k steps as executed."""
        chunks = [agent.next_chunk(observation) for agent, observation in self._each_env(batch)]
        return torch.as_tensor(np.stack(chunks), device=batch[OBS_STATE].device)  # (B, k, A)

    def _each_env(self, batch: dict) -> list[tuple[Agent, Observation]]:
        """Each env's agent and what it observes."""
        images, states, instructions = self._inputs(batch)
        agents = self._agents_for(instructions)
        rows = zip(agents, images, states, instructions, strict=True)
        return [(agent, Observation(image, state, instruction)) for agent, image, state, instruction in rows]

    def _inputs(self, batch: dict) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """The batch as the Agent sees it: uint8 images (B, S, S, 3), float32 states (B, S_dim), instructions."""
        key, size = self.config.image_key, self.config.image_size
        for needed in (key, OBS_STATE):
            if needed not in batch:
                raise InputError(f"the batch has no {needed!r} (keys: {sorted(batch)}); run the policy's preprocessor")
        images = batch[key]
        if tuple(images.shape[1:]) != (3, size, size):
            raise InputError(
                f"{key} must be (B, 3, {size}, {size}) after the policy's preprocessor, got {tuple(images.shape)}"
            )
        images = (images.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
        states = batch[OBS_STATE].float().cpu().numpy()  # (B, S_dim); each Agent checks size and finiteness
        tasks = batch.get("task")
        tasks = [tasks] if isinstance(tasks, str) else list(tasks or [])
        if len(tasks) != len(images) or not all(isinstance(t, str) and t.strip() for t in tasks):
            raise InputError(
                f"the policy needs one non-empty instruction per env in batch['task'], got {tasks!r}; "
                "pass --task (lerobot-rollout) or use an env with task descriptions"
            )
        return images, states, tasks

    def _agents_for(self, instructions: list[str]) -> list[Agent]:
        """This episode's agents, made at its first batch; an env whose instruction changes starts over."""
        if len(self._agents) != len(instructions):
            self._agents = [Agent(self.planner, self.idm, self.config.replan_rule) for _ in instructions]
        for env_index, (agent, instruction) in enumerate(zip(self._agents, instructions, strict=True)):
            if agent.instruction != instruction:  # a new agent has none yet
                agent.reset(instruction, seed=self.config.seed + EPISODE_SEED_STRIDE * self._episode + env_index)
        return self._agents


def check_matches_config(config: VideoPlannerConfig, planner: VideoPlanner, idm: InverseDynamics) -> None:
    """Refuses models that disagree with the policy config's image size, state size or action size."""
    features = {**(config.input_features or {}), **(config.output_features or {})}
    pairs = {
        "image size": (config.image_size, planner.config.image_size),
        "state dimension": (_size(features.get(OBS_STATE)), idm.config.state_dim),
        "action dimension": (_size(features.get(ACTION)), idm.config.action_dim),
    }
    declared = {what: pair for what, pair in pairs.items() if pair[0] is not None}  # a feature the config lacks
    names = ("the policy config and its models", "config", "models")
    refuse_mismatch(names, declared, fix="export the policy again for this robot")


def _size(feature) -> int | None:
    return None if feature is None else int(np.prod(feature.shape))
