# One-command set-up: every target builds .venv (python3.12) and installs the system packages it needs.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export MUJOCO_GL ?= egl
export PYOPENGL_PLATFORM ?= egl
export HF_HUB_OFFLINE ?= 1
export HF_HUB_DISABLE_TELEMETRY ?= 1

.PHONY: setup demo test test-slow lint clean-demo

setup: $(STAMP)

PLUGINS := video_planner/lerobot_policy/plugin robot_io/lerobot_robot/plugin

$(STAMP): pyproject.toml $(addsuffix /pyproject.toml,$(PLUGINS)) scripts/install_system_deps.sh scripts/find_python312.sh
	bash scripts/install_system_deps.sh
	[ -x $(PY) ] || $$(bash scripts/find_python312.sh) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]' $(addprefix -e ,$(PLUGINS))  # plugins: LeRobot knows our policy and robot types
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/vp collect --recipe datasets/tiny.toml --output outputs/demo_dataset

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest -m "not slow" -q -n auto --dist loadfile

test-slow: $(STAMP)
	$(VENV)/bin/pytest -m slow -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
