"""What the daemon does at each control tick: its rate, how often it asks for a plan, when a plan is too old
to follow, and how far one action may move from the last. Import-light, so `vp daemon --help` reads it."""

from dataclasses import dataclass
from typing import Literal

from foundation.config_io import check_ranges, ranged
from foundation.errors import InputError

ChangeReference = Literal["previous_action", "state"]


@dataclass(frozen=True)
class DaemonSettings:
    fps: int = ranged(10, "[1, 1000]")  # control ticks per second
    replan_every: int = ranged(24, "[1, inf)")  # ticks between plan requests; a multiple of the IDM chunk size
    # a plan older than this many ticks (its successor has not come) is not followed: the arm holds
    stale_after: int = ranged(96, "[1, inf)")
    max_episode_steps: int = ranged(500, "[1, inf)")  # an episode ends here if not stopped before
    # most change of any action dimension from the reference per tick; unset: bounds only
    max_step_change: float | None = ranged(None, "(0, inf)")
    # what the change is measured from: the previous action (delta-commanded arms such as MetaWorld's) or the
    # state (arms commanded in joint positions, whose action names are their state names)
    change_reference: ChangeReference = "previous_action"
    watchdog_periods: int = ranged(5, "[2, 1000]")  # a loop silent this many periods is e-stopped
    seed: int = ranged(0, "[0, inf)")  # plans of episode e draw noise from seed · 1000 + e and the plan count
    dry_run: bool = False  # plan and compute actions, log them, send none

    def __post_init__(self):
        check_ranges(self, "daemon settings")
        if self.stale_after < self.replan_every:
            raise InputError(
                f"stale_after {self.stale_after} is below replan_every {self.replan_every}: every plan would go "
                "stale before the next is asked for"
            )


@dataclass(frozen=True)
class ControlSettings:
    host: str = "127.0.0.1"  # address of the control interface; any but loopback needs a token
    port: int = ranged(8100, "[0, 65535]")  # port of the control interface; 0 picks a free one
    # a file holding the token control clients must send (else the VP_DAEMON_TOKEN variable)
    token_file: str | None = None

    def __post_init__(self):
        check_ranges(self, "control settings")
