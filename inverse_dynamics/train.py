"""Training the inverse-dynamics model on recorded rollouts.

    vp train-idm --dataset outputs/datasets/metaworld_avdc11 --dataset outputs/datasets/metaworld_avdc11_noisy \
        --output outputs/idm/avdc11
    vp train-idm ... --resume          # continues exactly where a killed run last checkpointed
    vp train-idm --dataset <kept rollouts> --init-from outputs/idm/avdc11/checkpoint ...   # fine-tune (SAIL)
    vp train-idm ... --replay outputs/datasets/metaworld_avdc11   # with half of each batch from the demos

Every step's randomness (batch rows, shifts) comes from a generator seeded by (seed, step), so a resumed
run repeats the uninterrupted run's losses bit for bit. `<output>/checkpoint/` is replaced atomically every
`checkpoint_every` steps: an `InverseDynamics` directory plus `training_state/`.
"""

import json
from pathlib import Path

import torch
import torch.nn.functional as F
from diffusers.optimization import get_scheduler
from safetensors.torch import load_file
from tqdm import tqdm

from foundation.atomic_dir import atomic_directory
from foundation.config_io import dataclass_to_dict
from foundation.errors import InputError
from foundation.replay import draw_rows
from foundation.resume import TRAINER_STATE_FILE, SavedConfig, start_or_resume
from foundation.state_io import load_state, save_state
from inverse_dynamics.config import InverseDynamicsConfig
from inverse_dynamics.model import InverseDynamics
from inverse_dynamics.samples import load_chunk_samples
from inverse_dynamics.train_config import RESUMABLE_CHANGES, IDMTrainConfig
from robot_io.metaworld_tasks import task_of_instruction


class InverseDynamicsTrainer:
    def __init__(
        self,
        model_config: InverseDynamicsConfig,
        train_config: IDMTrainConfig,
        output_dir: str | Path,
        *,
        resume: bool = False,
        show_progress: bool = True,
    ):
        self.output = Path(output_dir)
        self.checkpoint_dir = self.output / "checkpoint"
        self.show_progress = show_progress
        saved = start_or_resume(
            self.checkpoint_dir,
            self.output,
            resume,
            [
                SavedConfig("model_config", "model config", model_config),
                SavedConfig("train_config", "training config", train_config, RESUMABLE_CHANGES),
            ],
        )
        if saved is not None and saved["step"] > train_config.steps:
            raise InputError(f"{self.output} already ran {saved['step']} steps; pass --steps >= {saved['step']}")
        self.config, self.train_config = model_config, train_config
        self.samples = load_chunk_samples(
            train_config.datasets, model_config, show_progress, train_config.replay, train_config.camera_key
        )
        bank = self.samples.bank
        torch.manual_seed(train_config.seed)  # initial weights only
        self.model = InverseDynamics(model_config)
        tasks = {task_of_instruction(i) for i in bank.instructions}
        if train_config.init_from:
            start = InverseDynamics.from_pretrained(train_config.init_from)
            if start.config != model_config:
                raise InputError(
                    f"cannot fine-tune {train_config.init_from}: its model config differs from this run's; "
                    "use the config saved there"
                )
            self.model.load_state_dict(start.state_dict())
            tasks |= set(start.trained_tasks)
        else:
            self.model.set_normalization(bank.states, bank.actions)
        self.model.trained_tasks = tuple(sorted(tasks))
        self.step, self.losses = 0, []
        self.optimizer = torch.optim.AdamW(
            self.model.net.parameters(), lr=train_config.learning_rate, weight_decay=train_config.weight_decay
        )
        self.lr_scheduler = get_scheduler(
            "constant_with_warmup", self.optimizer, num_warmup_steps=train_config.warmup_steps
        )
        if saved is not None:
            self._load_checkpoint(saved)

    def _save_checkpoint(self) -> None:
        with atomic_directory(self.checkpoint_dir) as staging:
            self.model.write_files(staging)
            state_dir = staging / "training_state"
            state_dir.mkdir()
            save_state(self.optimizer.state_dict(), state_dir, "optimizer")
            save_state(self.lr_scheduler.state_dict(), state_dir, "lr_scheduler")
            trainer_state = {
                "step": self.step,
                "losses": self.losses,
                "model_config": self.config.to_dict(),
                "train_config": dataclass_to_dict(self.train_config),
            }
            (state_dir / TRAINER_STATE_FILE).write_text(json.dumps(trainer_state))

    def _load_checkpoint(self, saved: dict) -> None:
        state_dir = self.checkpoint_dir / "training_state"
        self.step, self.losses = saved["step"], saved["losses"]
        self.model.load_state_dict(load_file(self.checkpoint_dir / "model.safetensors"))
        self.optimizer.load_state_dict(load_state(state_dir, "optimizer"))
        self.lr_scheduler.load_state_dict(load_state(state_dir, "lr_scheduler"))

    def run(self) -> Path:
        cfg = self.train_config
        self.output.mkdir(parents=True, exist_ok=True)
        self.model.train()
        bar = tqdm(total=cfg.steps, initial=self.step, desc="inverse dynamics", disable=not self.show_progress)
        own, replay = self.samples.own_rows, len(self.samples) - self.samples.own_rows
        while self.step < cfg.steps:
            generator = torch.Generator().manual_seed(cfg.seed * 1_000_003 + self.step)
            rows = draw_rows(own, replay, cfg.batch_size, cfg.replay_fraction, generator)
            batch = self.samples.batch(rows, cfg.shift_pixels, generator)
            prediction = self.model(batch["frames"], batch["targets"], batch["states"])  # (B, k, A) normalised
            loss = F.mse_loss(prediction, self.model.normalize_actions(batch["actions"]))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.net.parameters(), 1.0)
            self.optimizer.step()
            self.lr_scheduler.step()
            self.optimizer.zero_grad()
            self.step += 1
            self.losses.append(float(loss.detach()))
            bar.update(1)
            bar.set_postfix(loss=f"{self.losses[-1]:.4f}")
            if self.step % cfg.checkpoint_every == 0 or self.step == cfg.steps:
                self._save_checkpoint()
        bar.close()
        return self.checkpoint_dir
