"""A SAIL run's report: `report.md` (success per iteration and task, what the filter kept, the detector's
precision and recall), `success_vs_iteration.png`, and `plan_vs_execution.mp4`, a grid with one row per
iteration and one column per task, each cell an evaluation episode with the execution left of the planned
frame it was heading for."""

from pathlib import Path

import numpy as np

from foundation.atomic_dir import write_text_atomic
from foundation.config_io import read_json
from foundation.video_io import write_video
from robot_io.dataset_io import read_episodes
from video_planner.control.closed_loop_eval import mean_steps_solved, rate_text
from video_planner.sail.filtering import read_filter_result
from video_planner.sail.settings import SailSettings

REPORT_FILE, PLOT_FILE, GRID_FILE = "report.md", "success_vs_iteration.png", "plan_vs_execution.mp4"


def evaluated_iterations(output: Path, settings: SailSettings) -> list[dict]:
    """What each evaluated iteration measured: eval summary and episode rows, and its filter result if any."""
    found = []
    for k in range(settings.iterations + 1):
        here = output / f"iter_{k}"
        results = here / "eval" / "results.json"
        if not results.is_file():
            break
        record = read_json(results, {"summary": dict, "episodes": list})
        if record["summary"]["episodes"] < len(settings.eval_settings().episodes()):
            break
        selection = here / "selection" / "results.json"
        found.append(
            {
                "iteration": k,
                "eval": record["summary"],
                "rows": record["episodes"],
                "selection": read_json(selection, {"summary": dict})["summary"] if selection.is_file() else None,
                "filter": read_filter_result(here),
                "dir": here,
            }
        )
    return found


def _task_cell(iteration: dict, task: str) -> str:
    """Success on the task, and the mean steps of its solved episodes in brackets."""
    steps = mean_steps_solved([r for r in iteration["rows"] if r["task"] == task])
    result = iteration["eval"]["tasks"][task]
    success = rate_text(result["success"], result.get("stderr"))
    return success if steps is None else f"{success} ({steps:.0f} steps)"


def _detector_cell(scores: dict) -> str:
    auroc = scores.get("auroc")  # None when the rollouts hold one outcome only; absent in runs before it existed
    return f"{scores['precision']:.2f} / {scores['recall']:.2f} / " + ("–" if auroc is None else f"{auroc:.2f}")


def markdown_table(settings: SailSettings, iterations: list[dict]) -> str:
    selection = ["selection seeds"] if settings.selection_seeds else []
    header = [
        "iteration",
        "mean success",
        *selection,
        *settings.tasks,
        "rollouts solved",
        "kept",
        "detector precision / recall / AUROC",
    ]
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for it in iterations:
        tasks = [_task_cell(it, t) for t in settings.tasks]
        f = it["filter"]
        solved = f"{f['oracle_successes']} / {f['rollouts']}" if f else "–"
        kept = str(f["kept"]) if f else "–"
        detector = f["detector"] if f else None
        scores = _detector_cell(detector) if detector else "–"
        chosen = it["selection"]
        chosen_on = [rate_text(chosen["mean_success"], chosen.get("mean_stderr")) if chosen else "–"]
        mean = rate_text(it["eval"]["mean_success"], it["eval"].get("mean_stderr"))
        row = [str(it["iteration"]), f"**{mean}**", *(chosen_on if selection else []), *tasks]
        row += [solved, kept, scores]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def _plot(settings: SailSettings, iterations: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    ks = [it["iteration"] for it in iterations]
    figure, axes = plt.subplots(figsize=(6, 4))
    for task in settings.tasks:
        axes.plot(ks, [100 * it["eval"]["tasks"][task]["success"] for it in iterations], marker="o", label=task)
    axes.plot(ks, [100 * it["eval"]["mean_success"] for it in iterations], "k--", linewidth=2, label="mean")
    axes.set(xlabel="SAIL iteration", ylabel="success (%)", ylim=(-5, 105), xticks=ks)
    axes.set_title(f"filter: {settings.filter}, fine-tune: {settings.finetune}")
    axes.legend(fontsize=8)
    figure.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    figure.savefig(tmp, dpi=120)
    plt.close(figure)
    tmp.rename(path)


def _grid_video(settings: SailSettings, iterations: list[dict], path: Path) -> None:
    rows = []
    for it in iterations:  # the eval records episodes in the order of its result rows
        firsts = [next(i for i, r in enumerate(it["rows"]) if r["task"] == task) for task in settings.tasks]
        episodes = read_episodes(it["dir"] / "eval" / "rollouts", firsts)
        rows.append([np.concatenate([e.images, e.plan_images], axis=2) for e in episodes])  # (T, H, 2W, 3) each
    length = max(len(cell) for row in rows for cell in row)
    padded = [[np.concatenate([c, np.repeat(c[-1:], length - len(c), axis=0)]) for c in row] for row in rows]
    grid = np.concatenate([np.concatenate(row, axis=2) for row in padded], axis=1)  # (T, iterations·H, tasks·2W, 3)
    write_video(path, grid[::2], fps=20)


def _filter_text(settings: SailSettings) -> str:
    if settings.filter != "learned":
        return ""
    if settings.keep_fraction is None:
        return f" (detector {settings.detector}, P(success) ≥ {settings.threshold:g})"
    return f" (detector {settings.detector}, the top {settings.keep_fraction:.0%} of each task's rollouts)"


def _replay_text(settings: SailSettings) -> str:
    if not settings.replay:
        return ""
    pace = ", rollout clips paced to them" if settings.match_replay_pace else ""
    return f" with {', '.join(settings.replay)} replayed ({settings.replay_fraction:g} of each batch{pace})"


def _seen_text(seen: dict[str, list[str]]) -> str:
    if not seen:
        return "Every target is unseen: no model of iteration 0 (planner, prior, IDM, detector) trained on it."
    listed = "; ".join(f"the {name} trained on {', '.join(tasks)}" for name, tasks in seen.items())
    return f"**Not unseen** (allowed by --allow-seen-targets): {listed}."


def write_report(settings: SailSettings, output: Path, seen: dict[str, list[str]]) -> None:
    """Rewrites `report.md` and its figures from the iterations evaluated so far; `seen` names the targets
    each model was trained on (empty when every target is unseen)."""
    iterations = evaluated_iterations(output, settings)
    if not iterations:
        return
    _plot(settings, iterations, output / PLOT_FILE)
    _grid_video(settings, iterations, output / GRID_FILE)
    prior = f"{settings.prior} ({settings.mode})" if settings.prior else "none"
    text = "\n".join(
        [
            "# SAIL report",
            "",
            f"Tasks: {', '.join(settings.tasks)}. Planner: {settings.planner}; prior: {prior}; IDM: {settings.idm}.",
            f"Filter: {settings.filter}{_filter_text(settings)}; "
            f"fine-tune: {settings.finetune}{_replay_text(settings)}; "
            f"{settings.rollouts} rollouts per task and iteration; evaluation on {settings.eval_seeds} fixed scene "
            f"seeds per camera from {settings.eval_first_seed} ({', '.join(settings.cameras)}), never used for "
            "rollouts.",
            _seen_text(seen),
            "",
            "Success (and in brackets the mean steps of the solved episodes) is measured on the evaluation seeds with "
            "the iteration's models (with selection seeds, their mean success is shown apart: settings are chosen on "
            "those, never on the evaluation seeds); rollouts solved, kept and the detector's precision / recall / "
            "AUROC (against the simulator's labels) are about that iteration's rollouts.",
            "",
            markdown_table(settings, iterations),
            "",
            f"![success per iteration]({PLOT_FILE})",
            "",
            f"Plans vs execution: [{GRID_FILE}]({GRID_FILE}) (rows: iterations; columns: tasks; in each cell the "
            "execution is left of the planned frame it heads for).",
            "",
        ]
    )
    write_text_atomic(output / REPORT_FILE, text)
