"""Prompt layer: lays out what the context layer gathered, within token budgets."""
