"""Pose datasets MMPose lacks: :class:`LSPDataset` (Leeds Sports Pose and its extension)."""
from .lsp import LSPDataset

__all__ = ['LSPDataset']
