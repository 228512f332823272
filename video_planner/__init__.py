"""The video planner, by stage: `model` (the planner, its parts, composition with priors), `training`
(trainers, clip data, offline plan quality), `control` (the agent and closed-loop evaluation), `sail`
(self-improvement) and `cli` (`vp`). Each stage imports only those before it."""
