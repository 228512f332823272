"""Training the planner and scoring its plans offline: trainers, configs, the diffusion loss, clip data,
sample sheets."""
