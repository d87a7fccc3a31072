"""The hooks (MMEngine's ``HOOKS``): ``AUSAMHook``, ``EpochSeedHook``, ``CompileForwardHook``."""
from .ausam_hook import AUSAMHook
from .compile_hook import CompileForwardHook
from .epoch_seed_hook import EpochSeedHook

__all__ = ['AUSAMHook', 'CompileForwardHook', 'EpochSeedHook']
