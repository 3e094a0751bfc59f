"""Recipes: one YAML file runs the curation chain into one run directory (``instructkit run``)."""

from instructkit.recipe.load import Recipe, load
from instructkit.recipe.run import describe_plan, run_recipe

__all__ = ["Recipe", "describe_plan", "load", "run_recipe"]
