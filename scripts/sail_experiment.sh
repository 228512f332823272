#!/usr/bin/env bash
# SAIL on the four unseen targets, iterations 0 -> 4, with the learned filter (label-free rollouts) and with
# the oracle filter: every model and dataset the two runs need beyond the README's AVDC-11 pipeline, then the
# runs, then their result files kept under docs/results/sail/ with the tables printed from them.
#
#   bash scripts/sail_experiment.sh          # about 15 h on 2 cores; rerun it after a kill to continue
#
# Needs the AVDC-11 datasets, IDM and planner of the README's pipeline in outputs/. Every step resumes where
# it stopped (collection, training, evaluation and SAIL keep their own progress) or is skipped when finished.
# Settings are fixed before any result is seen: PA with its reference weights, the top third of each task's
# rollouts for the learned filter, 12 rollouts per task and iteration. Iterations are scored on 60 evaluation
# episodes (5 scenes per task and camera from 1,000,005: scenes no earlier choice of settings looked at) and
# shown beside 12 selection episodes, on which settings are to be chosen.
set -euo pipefail
cd "$(dirname "$0")/.."
VP=${VP:-vp}
OUT=${OUT:-outputs}
TARGETS=button-press-wall,drawer-close,reach-wall,plate-slide
PLANNER=$OUT/planner/avdc11-cpu/checkpoint
IDM=$OUT/idm/avdc11/checkpoint
PRIOR=$OUT/planner/mt50-prior
DETECTOR=$OUT/success/avdc11-mt50-horizon
resume() { if [ -d "$1" ]; then echo --resume; fi; }

# 1. The prior: demos of the 46 MT50 tasks other than the targets, trained in the AVDC-11 planner's latents.
$VP collect --recipe datasets/metaworld_mt50_prior.toml
$VP train-planner --dataset "$OUT/datasets/metaworld_mt50_prior" --init-from "$PLANNER" --steps 16000 \
    --output "$PRIOR" $(resume "$PRIOR")

# 2. The detector's labelled rollouts: AVDC-11 tasks on scenes of their own, run to the step limit as the
#    label-free rollouts it will judge are, so a solved episode ends where the arm left the scene.
$VP eval --tasks avdc11 --seeds 2 --sampling-steps 10 --planner "$PLANNER" --idm "$IDM" --record --for-training \
    --no-stop-at-success --output "$OUT/eval/avdc11-training-rollouts"

# 3. The detector: demos of every task but the targets, and those rollouts; failures are early frames and the
#    endings of failed episodes (the default negatives).
if [ ! -d "$DETECTOR" ]; then
    $VP train-success --dataset "$OUT/datasets/metaworld_mt50_prior" --dataset "$OUT/datasets/metaworld_avdc11" \
        --dataset "$OUT/datasets/metaworld_avdc11_noisy" --dataset "$OUT/datasets/metaworld_avdc11_explore" \
        --dataset "$OUT/eval/avdc11-training-rollouts/rollouts" --output "$DETECTOR"
fi

# 4. The two runs: the same models, scenes and settings but the filter.
common=(--tasks "$TARGETS" --planner "$PLANNER" --idm "$IDM" --prior "$PRIOR/checkpoint" --mode pa
    --iterations 4 --rollouts 12 --eval-seeds 5 --eval-first-seed 1000005 --selection-seeds 1
    --sampling-steps 10 --finetune both --detector "$DETECTOR")
$VP sail "${common[@]}" --filter learned --keep-fraction 0.33 --output "$OUT/sail/learned"
$VP sail "${common[@]}" --filter oracle --output "$OUT/sail/oracle"

# 5. The result files, kept in the repository, and the tables made from them.
for run in learned oracle; do
    python scripts/sail_table.py "docs/results/sail/$run" --from "$OUT/sail/$run"
done
