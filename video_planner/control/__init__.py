"""Planning in closed loop: the Agent (planner + inverse dynamics) and the evaluation that runs it in MetaWorld."""
