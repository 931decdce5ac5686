"""Pinhole camera of a scene's ``[render]`` table: eye, target and vertical field of view.

World y is up. The camera frame is right-handed with ``right``, ``up`` and ``forward`` unit
vectors; a point's view depth is its distance along ``forward`` [m], and a pixel's ray is
``forward + right * u + up * v`` with ``u, v`` in units of the focal length, so the ray
parameter of a hit equals its view depth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

_WORLD_UP = np.array([0.0, 1.0, 0.0])


@dataclass(frozen=True)
class Camera:
    """A pinhole camera looking from ``eye`` to ``target``.

    eye: camera position [m].
    target: point the camera looks at [m].
    fov: vertical field of view [degrees], in (0, 180).
    """

    eye: tuple[float, float, float]
    target: tuple[float, float, float]
    fov: float = 40.0

    def __post_init__(self) -> None:
        if not 0.0 < self.fov < 180.0:
            raise ValueError(f"camera fov must be in (0, 180) degrees, got {self.fov}")
        if np.allclose(np.asarray(self.eye, float), np.asarray(self.target, float)):
            raise ValueError(f"camera eye and target are the same point {tuple(self.eye)}; move one of them")

    def basis(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Unit vectors ``(right, up, forward)`` of the camera frame in world coordinates."""
        forward = np.asarray(self.target, float) - np.asarray(self.eye, float)
        forward /= np.linalg.norm(forward)
        # Looking straight up or down leaves world y parallel to the view; screen-up then
        # follows world -z (looking down) or +z (looking up), as a top view is usually drawn.
        up_hint = _WORLD_UP if abs(forward[1]) < 0.999 else np.array([0.0, 0.0, -np.sign(forward[1])])
        right = np.cross(forward, up_hint)
        right /= np.linalg.norm(right)
        up = np.cross(right, forward)
        return right, up, forward

    def focal_length_px(self, height: int) -> float:
        """Focal length [pixels] for an image ``height`` pixels tall."""
        return 0.5 * height / math.tan(math.radians(self.fov) * 0.5)
