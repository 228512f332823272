"""The planning API: `vp serve` runs it, `PlannerClient` calls it."""
