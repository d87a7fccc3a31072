"""The dataset wrapper (MMEngine's ``DATASETS``): ``IndexedDataset``."""
from .indexed_dataset import IndexedDataset

__all__ = ['IndexedDataset']
