"""Each daemon episode as a LeRobotDataset episode, committed whole when the episode ends (a crash loses at most
the episode in progress): the camera image, the state and the executed action of every tick that sent one,
the planned frame it headed for, and the instruction. A real arm cannot tell success, so the dataset has no
`next.success` column; the sidecar's row per episode says how it went (steps, actions, how it ended) and, with a
learned success detector, its estimate `detector_p_success` from the first and last camera images: an
estimate for an operator to read, not a label (SAIL's learned filter makes its own verdicts)."""

from pathlib import Path

import numpy as np

from foundation.frames import resize_images
from robot_io.episode_format import Episode
from robot_io.rollout_store import open_rollout_store, record_episodes, recorded_rows
from robot_io.types import Observation, RobotFeatures


class EpisodeRecorder:
    def __init__(self, root: Path, image_size: int, robot: RobotFeatures, camera: str, detector=None):
        """`detector`: a `SuccessDetector` whose estimate goes into each episode's row."""
        self.store = open_rollout_store(Path(root), image_size, robot, with_outcomes=False)
        self.image_size, self.camera, self.robot, self.detector = image_size, camera, robot, detector
        self.begin("", 0)

    def begin(self, instruction: str, seed: int) -> None:
        self.instruction, self.seed = instruction, seed
        self.rows: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def add(self, observation: Observation, action: np.ndarray, target_frame: np.ndarray) -> None:
        """One executed tick: what the robot saw and did, and the planned frame it headed for."""
        size = self.image_size
        image = resize_images(observation.image, size).copy()  # a copy: a camera may refill its buffer
        self.rows.append((image, observation.state, action, resize_images(target_frame, size)))

    def commit(self, summary: dict) -> int:
        """Appends the episode (when it executed anything) and its summary row; returns its step count."""
        if not self.rows:
            return 0
        images, states, actions, plans = (np.stack(column) for column in zip(*self.rows, strict=True))
        episode = Episode(
            images,
            states.astype(np.float32),
            np.zeros((len(actions), 0), np.float32),
            actions.astype(np.float32),
            None,
            self.instruction,
            self.camera,
            self.seed,
            plans,
        )
        row = summary | {"instruction": self.instruction, "seed": self.seed}
        if self.detector is not None:
            estimate = self.detector.probabilities([images[0]], [images[-1]], [self.instruction])[0]
            row["detector_p_success"] = float(estimate)
        record_episodes(self.store, [episode], [row])
        return len(actions)

    def episodes(self) -> list[dict]:
        """The summary rows of the episodes recorded so far."""
        return recorded_rows(self.store)
