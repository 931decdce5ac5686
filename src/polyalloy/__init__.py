"""polyalloy: a simulator of shape-shifting liquid metal (MLS-MPM on NVIDIA Warp)."""

__version__ = "0.1.0"
