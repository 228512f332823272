# One-command set-up: every target builds .venv (python3.12) and installs the system packages it needs.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export MUJOCO_GL ?= egl
export PYOPENGL_PLATFORM ?= egl
export HF_HUB_OFFLINE ?= 1
export HF_HUB_DISABLE_TELEMETRY ?= 1

.PHONY: setup demo bench test test-slow lint lock

setup: $(STAMP)

PLUGINS := video_planner/lerobot_policy/plugin robot_io/lerobot_robot/plugin

$(STAMP): pyproject.toml requirements.lock $(addsuffix /pyproject.toml,$(PLUGINS)) scripts/install_system_deps.sh scripts/find_python312.sh
	bash scripts/install_system_deps.sh
	[ -x $(PY) ] || $$(bash scripts/find_python312.sh) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock  # the versions the tests passed with
	$(PY) -m pip install --quiet --no-deps -e '.[dev]' $(addprefix -e ,$(PLUGINS))  # plugins: LeRobot knows our policy and robot types
	touch $(STAMP)

# requirements.lock anew: pyproject.toml's dependencies and dev extras, each at the version installed in .venv
lock: $(STAMP)
	$(PY) -m pip list --format=freeze --exclude-editable > $(VENV)/installed.txt
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --constraint $(VENV)/installed.txt --python-version 3.12 \
		--no-header --no-annotate --quiet --output-file requirements.lock.new
	(echo "# make lock: pyproject.toml's dependencies and dev extras at the versions the tests passed with"; \
		cat requirements.lock.new) > requirements.lock && rm requirements.lock.new

# the shipped default models plan and act on three AVDC-11 tasks: outputs/demo/report.md
demo: $(STAMP)
	$(PY) scripts/demo.py --output outputs/demo

# every CPU benchmark's quick mode, one table of ratios against baselines: outputs/bench/bench.md
bench: $(STAMP)
	$(PY) scripts/bench_all.py --output outputs/bench

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest -m "not slow" -q -n auto --dist loadfile

test-slow: $(STAMP)
	$(VENV)/bin/pytest -m slow -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
