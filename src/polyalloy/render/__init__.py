"""Preview images, videos and metric plots of a run."""

from polyalloy.render.camera import Camera
from polyalloy.render.plots import plot_metrics
from polyalloy.render.preview import PreviewRenderer
from polyalloy.render.video import write_video

__all__ = ["Camera", "PreviewRenderer", "plot_metrics", "write_video"]
