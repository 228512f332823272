"""The safety layer: whatever a planner or IDM outputs (NaN, inf, huge, wrong shape, not numbers), what leaves is
finite, inside the bounds and within one step's change of the reference, or nothing at all."""

import logging

import hypothesis
import hypothesis.strategies as st
import numpy as np
import pytest

from foundation.errors import InputError
from robot_io.action_guard import (
    BAD_REFERENCE,
    CLIPPED,
    NON_FINITE,
    NOT_NUMERIC,
    REFERENCE_OUT_OF_BOUNDS,
    STEP_LIMITED,
    WRONG_SHAPE,
    ActionGuard,
    ActionLimits,
)

LIMITS = ActionLimits(np.array([-1.0, -1.0, 0.0, -100.0]), np.array([1.0, 1.0, 0.5, 100.0]), [0.3, 0.3, 0.1, 5.0])
wild = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-(10**30), 10**30))
outputs = st.one_of(
    st.lists(wild, min_size=4, max_size=4),  # the right size, anything in it
    st.lists(wild, max_size=7),  # any size
    st.lists(st.text(max_size=3), min_size=4, max_size=4),
    st.none(),
)
references = st.one_of(
    st.none(), st.lists(st.floats(-2, 2), min_size=4, max_size=4), st.lists(wild, min_size=4, max_size=4)
)


def assert_safe(guarded, reference) -> None:
    if guarded.action is None:
        assert guarded.reasons  # a hold always says why
        return
    action = guarded.action
    assert action.shape == (4,) and np.isfinite(action).all()
    assert (action >= LIMITS.low).all() and (action <= LIMITS.high).all()
    if reference is not None:
        assert (np.abs(action - np.asarray(reference)) <= LIMITS.max_step_change * (1 + 1e-12)).all()


def check_many(examples: int):
    guard = ActionGuard(LIMITS)

    @hypothesis.given(output=outputs, reference=references)
    @hypothesis.settings(max_examples=examples, deadline=None, database=None)
    def property_holds(output, reference):
        assert_safe(guard.check(output, reference), reference)

    property_holds()
    return guard.counts


@pytest.mark.parametrize(
    "examples", [pytest.param(2_000, id="2k"), pytest.param(100_000, id="100k", marks=pytest.mark.slow)]
)
def test_no_output_ever_leaves_unsafe(examples, caplog):
    caplog.set_level(logging.ERROR)  # 100,000 warnings are not the point here
    counts = check_many(examples)
    assert {CLIPPED, NON_FINITE, WRONG_SHAPE, STEP_LIMITED} <= counts.keys()  # the run met each hazard


def test_each_reason_positive_and_negative():
    guard = ActionGuard(LIMITS)
    untouched = guard.check([0.1, -0.2, 0.3, 50.0], reference=[0.0, 0.0, 0.25, 49.0])
    np.testing.assert_array_equal(untouched.action, [0.1, -0.2, 0.3, 50.0])
    assert untouched.reasons == ()
    clipped = guard.check([3.0, -0.2, 0.3, 50.0])
    assert clipped.action.tolist() == [1.0, -0.2, 0.3, 50.0] and clipped.reasons == (CLIPPED,)
    stepped = guard.check([0.9, -0.2, 0.3, 50.0], reference=[0.0, 0.0, 0.25, 49.0])
    assert stepped.action.tolist() == pytest.approx([0.3, -0.2, 0.3, 50.0]) and stepped.reasons == (STEP_LIMITED,)
    both = guard.check([9.0, 0.0, 0.0, 0.0], reference=[0.0, 0.0, 0.0, 0.0])
    assert both.action.tolist() == pytest.approx([0.3, 0.0, 0.0, 0.0]) and both.reasons == (CLIPPED, STEP_LIMITED)
    holds = {
        NON_FINITE: ([float("nan"), 0, 0, 0], None),
        WRONG_SHAPE: ([0.0, 0.0, 0.0], None),
        NOT_NUMERIC: (["a", "b", "c", "d"], None),
        BAD_REFERENCE: ([0.0] * 4, [float("inf"), 0, 0, 0]),
        REFERENCE_OUT_OF_BOUNDS: ([0.0] * 4, [0.0, 0.0, 0.9, 0.0]),
    }
    for reason, (action, reference) in holds.items():
        assert guard.check(action, reference) == type(untouched)(None, (reason,))
    assert guard.counts == {CLIPPED: 2, STEP_LIMITED: 2} | dict.fromkeys(holds, 1)


def test_limits_are_checked_where_they_are_made():
    with pytest.raises(InputError, match="low .* above high"):
        ActionLimits.uniform(2, 1.0, -1.0)
    with pytest.raises(InputError, match="max_step_change"):
        ActionLimits.uniform(2, -1.0, 1.0, max_step_change=0.0)
    with pytest.raises(InputError, match="finite"):
        ActionLimits(np.array([-np.inf]), np.array([1.0]))
