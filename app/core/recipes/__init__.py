"""Initialization recipes of large-model codebases, keyed by tensor roles.

``context`` (the model values and the tensor a recipe sees), ``base`` (rows, parameters, one
request's run), ``rules`` (each recipe's formulas, citing their code), ``registry`` (one
literal row per recipe).
"""

from .base import Pick, Recipe, RecipeParam, RecipeRun, RecipeValues
from .context import RecipeContext, RecipeTensor, block_index, module_of
from .registry import RECIPES, TRANSFORMERS_VERSION, get_recipe, recipe_names, resolve_recipe

__all__ = [
    "RECIPES",
    "TRANSFORMERS_VERSION",
    "Pick",
    "Recipe",
    "RecipeContext",
    "RecipeParam",
    "RecipeRun",
    "RecipeTensor",
    "RecipeValues",
    "block_index",
    "get_recipe",
    "module_of",
    "recipe_names",
    "resolve_recipe",
]
