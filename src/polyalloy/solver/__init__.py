"""The MLS-MPM solver: staged kernels for one explicit substep."""

from .mpm import MPMSolver, NonFiniteStateError

__all__ = ["MPMSolver", "NonFiniteStateError"]
