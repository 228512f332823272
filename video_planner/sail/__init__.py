"""SAIL: the self-improvement loop (plan, execute, filter, fine-tune) and the success filter it needs."""
