"""The safety layer between a policy's raw output and a robot's `send_action`: every action that leaves is
finite, of the robot's size, inside its bounds and within a per-step change of a reference; anything else
holds (nothing is sent). Each clip or hold is counted and logged with its reason.

    guard = ActionGuard(ActionLimits.uniform(4, -1.0, 1.0, max_step_change=0.5))
    guarded = guard.check(raw_action, reference=previous_action)   # guarded.action is None: hold
    guard.counts   # Counter of reasons, e.g. {"clipped to bounds": 3, "non-finite": 1}

The per-step change limit is LeRobot's `max_relative_target` idea: for an arm commanded in joint positions the
reference is the present position (the state), for a delta-commanded arm (MetaWorld) the previous action.
"""

import logging
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from foundation.errors import InputError

logger = logging.getLogger(__name__)

WRONG_SHAPE, NOT_NUMERIC, NON_FINITE = "wrong shape", "not numeric", "non-finite"
BAD_REFERENCE, REFERENCE_OUT_OF_BOUNDS = "reference of wrong shape or non-finite", "reference outside bounds"
CLIPPED, STEP_LIMITED = "clipped to bounds", "step change limited"


@dataclass(frozen=True)
class ActionLimits:
    low: np.ndarray  # (A,) float64, the lowest value of each action dimension
    high: np.ndarray  # (A,) float64
    max_step_change: np.ndarray | None = None  # (A,): most change from the reference per step; None: no limit

    def __post_init__(self):
        low, high = np.asarray(self.low, np.float64), np.asarray(self.high, np.float64)
        if low.ndim != 1 or low.shape != high.shape or not (np.isfinite(low).all() and np.isfinite(high).all()):
            raise InputError(f"action limits need finite low and high of one shape; got {low} and {high}")
        if (low > high).any():
            raise InputError(f"action limits: low {low.tolist()} above high {high.tolist()}")
        change = self.max_step_change
        if change is not None:
            change = np.broadcast_to(np.asarray(change, np.float64), low.shape).copy()
            if not (np.isfinite(change).all() and (change > 0).all()):
                raise InputError(f"max_step_change must be finite and > 0, got {change.tolist()}")
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)
        object.__setattr__(self, "max_step_change", change)

    @classmethod
    def uniform(cls, dim: int, low: float, high: float, max_step_change: float | None = None) -> "ActionLimits":
        return cls(np.full(dim, low), np.full(dim, high), max_step_change)

    @property
    def dim(self) -> int:
        return len(self.low)


@dataclass(frozen=True)
class GuardedAction:
    action: np.ndarray | None  # (A,) float64 safe to send; None: hold, send nothing
    reasons: tuple[str, ...] = ()  # why it was changed or held; empty when it passed untouched


@dataclass
class ActionGuard:
    limits: ActionLimits
    counts: Counter = field(default_factory=Counter)  # reason -> how many actions it changed or held

    def check(self, action, reference: np.ndarray | None = None) -> GuardedAction:
        """The safe version of `action`, or a hold. `reference` (A,) anchors the per-step change limit; without
        it (the first step) only the bounds apply. A reference outside the bounds holds: from there any move
        into them could be a jump."""
        guarded = self._guard(action, reference)
        for reason in guarded.reasons:
            self.counts[reason] += 1
        if guarded.reasons:
            verdict = "held" if guarded.action is None else f"sent {guarded.action.tolist()}"
            logger.warning("action %s: %s (%s)", _shown(action), verdict, ", ".join(guarded.reasons))
        return guarded

    def _guard(self, action, reference) -> GuardedAction:
        limits = self.limits
        try:
            values = np.asarray(action, dtype=np.float64)
        except (TypeError, ValueError):
            return GuardedAction(None, (NOT_NUMERIC,))
        if values.shape != (limits.dim,):
            return GuardedAction(None, (WRONG_SHAPE,))
        if not np.isfinite(values).all():
            return GuardedAction(None, (NON_FINITE,))
        safe = np.clip(values, limits.low, limits.high)
        reasons = [CLIPPED] if (safe != values).any() else []
        if limits.max_step_change is not None and reference is not None:
            reference = np.asarray(reference, dtype=np.float64)
            if reference.shape != (limits.dim,) or not np.isfinite(reference).all():
                return GuardedAction(None, (BAD_REFERENCE,))
            if ((reference < limits.low) | (reference > limits.high)).any():
                return GuardedAction(None, (REFERENCE_OUT_OF_BOUNDS,))  # any move could be a jump: stay
            # between the reference and a value inside the bounds: still inside them
            stepped = np.clip(safe, reference - limits.max_step_change, reference + limits.max_step_change)
            if (stepped != safe).any():
                reasons.append(STEP_LIMITED)
            safe = stepped
        return GuardedAction(safe, tuple(reasons))


def _shown(action) -> str:
    try:
        return np.array2string(np.asarray(action, dtype=np.float64), precision=4)
    except (TypeError, ValueError):
        return repr(action)[:80]
