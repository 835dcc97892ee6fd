"""One cluster of three peered node processes for the recipe e2e suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.e2e_recipes.recipes_cluster import RecipeCluster, make_recipe_cluster


@pytest.fixture(scope="session")
def recipes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RecipeCluster]:
    yield from make_recipe_cluster(tmp_path_factory.mktemp("recipes3"))
