"""Preview renderer speed: seconds per 640x360 frame for 100 k particles (a sphere over a pool).

Budget (issue): <= 1 s per frame on the CPU (Warp's CPU backend runs kernels on one thread).
Warm-up frames are excluded, and so is the first compile of the kernels (cached afterwards).

    python benchmarks/bench_render.py [--device cpu|cuda] [--particles 100000] [--frames 5]
"""

from __future__ import annotations

import argparse
import time

import imageio.v3 as imageio
import numpy as np
import warp as wp

from polyalloy.render import Camera, PreviewRenderer


def sphere_over_pool(count: int, seed: int = 0) -> tuple[np.ndarray, float]:
    """``count`` particle centres [m]: a ball of radius 0.25 m resting on a pool 0.06 m
    deep and 1.2 m across at y = 0. Returns (positions, spacing [m])."""
    rng = np.random.default_rng(seed)

    def sample(spacing: float) -> np.ndarray:
        g = np.arange(-0.6, 0.6, spacing)
        pool = np.stack(np.meshgrid(g, np.arange(0.5 * spacing, 0.06, spacing), g, indexing="ij"), -1).reshape(-1, 3)
        pool = pool[np.hypot(pool[:, 0], pool[:, 2]) < 0.6]
        b = np.arange(-0.25, 0.25, spacing)
        ball = np.stack(np.meshgrid(b, b, b, indexing="ij"), -1).reshape(-1, 3)
        ball = ball[np.linalg.norm(ball, axis=1) < 0.25] + [0.0, 0.3, 0.0]
        return np.concatenate([pool, ball])

    volume = 4.0 / 3.0 * np.pi * 0.25**3 + np.pi * 0.6**2 * 0.06
    # A slightly fine lattice, thinned at random to exactly ``count`` particles.
    spacing = 0.95 * (volume / count) ** (1.0 / 3.0)
    points = sample(spacing)
    points = points[rng.permutation(len(points))[:count]]
    # MPM particles do not sit on a lattice after the first steps.
    points += rng.uniform(-0.25, 0.25, points.shape) * spacing
    return points.astype(np.float32), spacing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--particles", type=int, default=100_000)
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--save", help="write the last frame to this PNG")
    args = parser.parse_args()

    wp.init()
    positions, spacing = sphere_over_pool(args.particles)
    colors = np.tile(np.float32([0.78, 0.79, 0.82]), (len(positions), 1))
    camera = Camera(eye=(0.0, 0.9, 1.9), target=(0.0, 0.2, 0.0), fov=40.0)
    renderer = PreviewRenderer(camera, (640, 360), particle_radius=spacing, device=args.device)

    t0 = time.perf_counter()
    renderer.render(positions, colors)  # compiles or loads the kernels
    first = time.perf_counter() - t0
    renderer.render(positions, colors)  # warm-up
    wp.synchronize_device(args.device)
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(args.frames):
        renderer.render(positions, colors)
    wp.synchronize_device(args.device)
    per_frame = (time.perf_counter() - t0) / args.frames
    # CPU time of this process: the wall time on an otherwise idle machine (one thread).
    cpu_per_frame = (time.process_time() - c0) / args.frames
    if args.save:
        imageio.imwrite(args.save, renderer.render(positions, colors))
    print(f"device {args.device}: {len(positions)} particles, 640x360, spacing {spacing * 1000:.1f} mm")
    print(f"first frame (compile/load) {first:.2f} s")
    print(f"{per_frame:.3f} s per frame wall, {cpu_per_frame:.3f} s CPU (mean of {args.frames}, budget 1 s)")


if __name__ == "__main__":
    main()
