"""Action error of an inverse-dynamics model on held-out rollouts, against "predict the mean action"."""

from collections import defaultdict

import numpy as np
import torch

from inverse_dynamics.model import InverseDynamics
from inverse_dynamics.samples import load_chunk_samples
from robot_io.metaworld_tasks import task_of_instruction


@torch.no_grad()
def evaluate_idm(model: InverseDynamics, datasets, batch_size: int = 256, show_progress: bool = False) -> dict:
    """Per-task mean squared action error of the model and of the training mean action (from the model's
    normalisation stats), over every chunk of the held-out datasets. Returns {"tasks": {task: {...}}, "all": {...}}."""
    samples = load_chunk_samples(datasets, model.config, show_progress)
    bank = samples.bank
    model.eval()
    errors = defaultdict(lambda: {"idm": [], "mean action": []})
    episode_of_frame = np.repeat(np.arange(len(bank.lengths)), bank.lengths)
    for begin in range(0, len(samples), batch_size):
        rows = np.arange(begin, min(begin + batch_size, len(samples)))
        batch = samples.batch(rows)
        predicted = model.predict(batch["frames"], batch["targets"], batch["states"])  # (B, k, A)
        idm_error = (predicted - batch["actions"]).square().mean(dim=(1, 2))
        mean_error = (model.action_mean - batch["actions"]).square().mean(dim=(1, 2))
        for row, a, b in zip(rows, idm_error.tolist(), mean_error.tolist(), strict=True):
            instruction = bank.instructions[episode_of_frame[samples.frame_index[row]]]
            task = task_of_instruction(instruction)
            errors[task]["idm"].append(a)
            errors[task]["mean action"].append(b)
    tasks = {t: {m: float(np.mean(v)) for m, v in by.items()} for t, by in sorted(errors.items())}
    overall = {m: float(np.mean([x for by in errors.values() for x in by[m]])) for m in ("idm", "mean action")}
    return {"tasks": tasks, "all": overall, "chunks": len(samples)}


def markdown_table(result: dict) -> str:
    lines = ["| task | IDM action MSE | mean-action MSE | ratio |", "|---|---|---|---|"]
    rows = [*result["tasks"].items(), ("**all**", result["all"])]
    for task, r in rows:
        lines.append(f"| {task} | {r['idm']:.4f} | {r['mean action']:.4f} | {r['idm'] / r['mean action']:.2f} |")
    return "\n".join(lines)
