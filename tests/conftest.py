"""Shared helpers for the tests: small scenes built in code, run on Warp's CPU device."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import warp as wp

wp.config.quiet = True


def scene_dict(name: str, duration: float, domain, cell: float, **scene_keys) -> dict:
    """A minimal scene as the TOML would hold it."""
    return {"scene": {"name": name, "duration": duration, "domain": domain, "cell": cell, **scene_keys}, "forms": [], "bodies": []}


def make_simulation(data: dict, base_dir: Path | None = None):
    from polyalloy.scene import Scene
    from polyalloy.simulation import Simulation

    return Simulation(Scene.from_dict(data, base_dir or Path.cwd()), device="cpu")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
