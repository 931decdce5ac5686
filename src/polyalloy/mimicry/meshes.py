"""Mesh forms: a triangle mesh file (OBJ, STL, PLY, GLB, ...) as a form.

The file is read with trimesh (a scene is flattened into one mesh), checked to be one closed
body, given outward winding, optionally scaled, and moved so its bounding box's bottom-face
centre is the origin (the DESIGN.md form contract). Distances come from a Warp BVH query
(``wp.Mesh``), signed by the generalised winding number, on any Warp device; the host sees
NumPy arrays. Vertex colours in the file (or a texture baked to vertex colours) colour the
form unless the scene gives ``color`` or ``colors``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh
import warp as wp

from polyalloy.mimicry.forms import Form, FormError, check_size_keys, as_points

_MAX_DIST = 1.0e6
"""Search radius of the closest-point query [m]: unbounded for any scene."""


@wp.kernel
def _closest_point_kernel(
    # Model:
    mesh: wp.uint64,
    max_dist: float,
    # In:
    points_in: wp.array(dtype=wp.vec3),
    # Out:
    dist_out: wp.array(dtype=float),
    face_out: wp.array(dtype=wp.int32),
    bary_out: wp.array(dtype=wp.vec2),
):
    """Signed distance [m] (negative inside) to the mesh, closest face and its barycentrics."""
    tid = wp.tid()
    p = points_in[tid]
    query = wp.mesh_query_point_sign_winding_number(mesh, p, max_dist)
    if query.result:
        closest = wp.mesh_eval_position(mesh, query.face, query.u, query.v)
        dist_out[tid] = query.sign * wp.length(p - closest)
        face_out[tid] = query.face
        bary_out[tid] = wp.vec2(query.u, query.v)
    else:
        dist_out[tid] = max_dist
        face_out[tid] = -1
        bary_out[tid] = wp.vec2(0.0, 0.0)


class MeshForm(Form):
    """A closed triangle mesh as a form. Scene keys: ``scale`` (factor from file units to
    metres, default 1) or ``height`` (scale uniformly to this height in metres)."""

    optional_keys = {
        "scale": ("factor", "factor from the file's units to metres, e.g. 0.01 for centimetres"),
        "height": ("length", "scale the mesh uniformly to this height in metres"),
    }

    def __init__(self, name: str, mesh: trimesh.Trimesh, color=None, colors=None,
                 device: str = "cpu", source: str | None = None):
        """``mesh`` in metres, already scaled; it is validated and moved to the origin convention.
        ``device`` is the Warp device the distance queries run on; ``source`` names the file in
        error messages."""
        where = f"form {name!r}: mesh {source}" if source else f"form {name!r}: the mesh"
        self.mesh = _prepare(mesh, where)
        """The validated trimesh in local coordinates [m]."""
        super().__init__(name, color, colors)
        self.device = device
        self._vertex_colors = None
        if color is None and not colors and self.mesh.visual.kind in ("vertex", "face"):
            self._vertex_colors = np.asarray(self.mesh.visual.vertex_colors, np.float32)[:, :3] / 255.0
        self._wp_mesh = None

    @classmethod
    def from_file(cls, name: str, path: str | Path, base_dir: Path, params: dict | None = None,
                  color=None, colors: dict | None = None, device: str = "cpu") -> MeshForm:
        """Load ``path`` (relative to ``base_dir``) with the scene keys ``params`` (see the class)."""
        resolved = (Path(base_dir) / path).resolve()
        where = f"form {name!r}: mesh {str(path)!r}"
        if not resolved.is_file():
            raise FormError(
                f"{where}: file not found at {resolved}; mesh paths are relative to the scene file's folder"
            )
        sizes = check_size_keys(name, "", params or {}, {}, cls.optional_keys)
        if "scale" in sizes and "height" in sizes:
            raise FormError(f"{where}: give 'scale' or 'height', not both")
        try:
            mesh = trimesh.load_mesh(str(resolved))
        except Exception as error:  # trimesh raises many types for unreadable files
            raise FormError(
                f"{where}: could not read {resolved} as a mesh ({type(error).__name__}: {error}); "
                "export it as OBJ, STL, PLY or GLB"
            ) from error
        if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
            raise FormError(
                f"{where}: no triangles could be read from {resolved}; export the surface as a triangle "
                "mesh in OBJ, STL, PLY or GLB"
            )
        if "height" in sizes:
            extent = float(mesh.extents[1])
            if extent <= 0.0:
                raise FormError(f"{where}: the mesh is flat in y, so it cannot be scaled to a height")
            mesh.apply_scale(sizes["height"] / extent)
        elif "scale" in sizes:
            mesh.apply_scale(sizes["scale"])
        return cls(name, mesh, color, colors, device, source=repr(str(path)))

    def sdf(self, p):
        return self._query(as_points(p))[0]

    def color_at(self, p):
        if self._vertex_colors is None:
            return super().color_at(p)
        _, face, bary = self._query(as_points(p))
        corners = self._vertex_colors[self.mesh.faces[face]]
        # Warp's barycentrics weight the face's first two vertices; the third gets the rest
        w = np.column_stack([bary, 1.0 - bary.sum(axis=1)]).astype(np.float32)
        return np.clip(np.einsum("nk,nkc->nc", w, corners), 0.0, 1.0).astype(np.float32)

    def bounds(self):
        lo, hi = self.mesh.bounds
        return np.array(lo, dtype=np.float64), np.array(hi, dtype=np.float64)

    def volume(self):
        return float(self.mesh.volume)

    def _query(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Signed distance [m] (N,), closest face (N,) and barycentrics (N, 2) for points (N, 3) [m]."""
        n = len(p)
        if n == 0:
            return np.zeros(0), np.zeros(0, np.int64), np.zeros((0, 2))
        if self._wp_mesh is None:
            # built on first use: the BVH costs time and memory a form that is never sampled does not need
            points = wp.array(self.mesh.vertices.astype(np.float32), dtype=wp.vec3, device=self.device)
            indices = wp.array(self.mesh.faces.astype(np.int32).ravel(), dtype=wp.int32, device=self.device)
            self._wp_mesh = wp.Mesh(points=points, indices=indices, support_winding_number=True)
        points_in = wp.array(p.astype(np.float32), dtype=wp.vec3, device=self.device)
        dist_out = wp.empty(n, dtype=float, device=self.device)
        face_out = wp.empty(n, dtype=wp.int32, device=self.device)
        bary_out = wp.empty(n, dtype=wp.vec2, device=self.device)
        wp.launch(_closest_point_kernel, dim=n, inputs=[self._wp_mesh.id, _MAX_DIST, points_in],
                  outputs=[dist_out, face_out, bary_out], device=self.device)
        return (dist_out.numpy().astype(np.float64), face_out.numpy().astype(np.int64),
                bary_out.numpy().astype(np.float64))


def _prepare(mesh: trimesh.Trimesh, where: str) -> trimesh.Trimesh:
    """Check that ``mesh`` is one closed body of non-zero volume, make its winding outward and
    move it so the bottom-face centre of its bounding box is the origin; returns a copy."""
    mesh = mesh.copy()
    if mesh.visual.kind == "texture":
        try:
            mesh.visual = mesh.visual.to_color()
        except Exception:  # a texture trimesh cannot sample only costs the colours, not the form
            mesh.visual = trimesh.visual.ColorVisuals(mesh)
    # UV and normal seams split vertices in the file; merge by position so seams are not holes
    mesh.merge_vertices(merge_tex=True, merge_norm=True)
    edges, counts = np.unique(mesh.edges_sorted, axis=0, return_counts=True)
    n_open = int(np.count_nonzero(counts == 1))
    n_shared = int(np.count_nonzero(counts > 2))
    if n_open or n_shared:
        details = [f"{n_open} open (boundary) edges"] if n_open else []
        details += [f"{n_shared} edges shared by more than two faces"] if n_shared else []
        raise FormError(
            f"{where} is not watertight: {', '.join(details)} among {len(edges)}; close the holes "
            "(e.g. Blender's 3D-Print Toolbox or trimesh.repair.fill_holes) and export it again"
        )
    n_bodies = len(mesh.split(only_watertight=False))
    if n_bodies > 1:
        raise FormError(
            f"{where} has {n_bodies} separate connected parts; a form must be one body: "
            "delete or join the extra parts, or make each its own form"
        )
    if not mesh.is_winding_consistent:
        trimesh.repair.fix_winding(mesh)
    if mesh.volume < 0.0:
        mesh.invert()
    extent = float(np.max(mesh.extents))
    if not mesh.volume > 1e-9 * extent**3:
        raise FormError(f"{where} encloses no volume ({mesh.volume:.3g} m^3); a form must be a solid")
    lo, hi = mesh.bounds
    mesh.apply_translation([-0.5 * (lo[0] + hi[0]), -lo[1], -0.5 * (lo[2] + hi[2])])
    return mesh
