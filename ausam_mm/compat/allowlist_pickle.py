"""A ``pickle``-compatible module whose unpickler imports only allow-listed globals.

``torch.load(f, weights_only=False, pickle_module=allowlist_pickle)`` reads a checkpoint with
the standard unpickler, but ``find_class`` - the one way a pickle reaches code - resolves only:

- what torch's own weights-only unpickler admits (tensors, parameters, storages, dtypes,
  ``OrderedDict``, ``Counter``, ``set``, ``torch.Size``, ``torch.device``, ...);
- numpy arrays, dtypes and scalars (MMPose's ``dataset_meta``, numpy values in the log);
- MMEngine's ``HistoryBuffer`` (the logged scalars in ``meta['message_hub']``), with the one
  ``getattr`` its pickles use (:func:`history_buffer_method`) and ``bytes``.

That is every type MMEngine 0.10.7, MMPose, mmpretrain and ausam_mm put in a checkpoint, so
``resume`` and ``load_from`` need no full unpickling. Any other global raises
:class:`RefusedGlobal` naming it. ``pickle_module`` has been an argument of ``torch.load`` on
every torch this project supports (2.1 included, where ``torch.load`` otherwise unpickles in
full and ``torch.serialization.add_safe_globals`` does not exist).
"""
import importlib
import pickle
from functools import lru_cache
from typing import Any, Dict

from torch import _weights_only_unpickler

# module -> names admitted from it, beyond torch's weights-only set
EXTRA_GLOBALS: Dict[str, frozenset] = {
    'numpy': frozenset({'ndarray', 'dtype'}),
    'numpy.core.multiarray': frozenset({'_reconstruct', 'scalar'}),  # numpy < 2 pickles
    'numpy._core.multiarray': frozenset({'_reconstruct', 'scalar'}),  # numpy >= 2 pickles
    'mmengine.logging.history_buffer': frozenset({'HistoryBuffer'}),
    # in torch's own set since torch 2.4 or so; listed for older torch (2.1)
    'builtins': frozenset({'bytes', 'bytearray', 'set', 'frozenset', 'complex'}),
    'collections': frozenset({'OrderedDict', 'Counter'}),
    '_codecs': frozenset({'encode'}),  # bytes in protocol-2 pickles (numpy arrays)
}


def history_buffer_method(owner: Any, name: str) -> Any:
    """The ``getattr`` of a pickled ``HistoryBuffer``, which saves its statistics methods as
    ``getattr(HistoryBuffer, 'mean')``: that form only, any other use is refused."""
    from mmengine.logging import HistoryBuffer
    statistics = {'min', 'max', 'current', 'mean', *HistoryBuffer._statistics_methods}
    if owner is HistoryBuffer and name in statistics:
        return getattr(HistoryBuffer, name)
    raise RefusedGlobal('builtins', f'getattr({getattr(owner, "__name__", owner)!r}, {name!r})')


class RefusedGlobal(pickle.UnpicklingError):
    """The pickle names a global outside the allow-list; ``global_name`` says which."""

    def __init__(self, module: str, name: str) -> None:
        self.global_name = f'{module}.{name}'
        super().__init__(f'global {self.global_name!r} is not allow-listed')


@lru_cache(maxsize=1)
def _torch_allowed() -> Dict[str, Any]:
    return _weights_only_unpickler._get_allowed_globals()


def is_allowed(module: str, name: str) -> bool:
    """Beyond torch's weights-only set: numpy arrays, dtypes, scalars, ``HistoryBuffer``."""
    if name in EXTRA_GLOBALS.get(module, ()):
        return True
    # numpy's dtype classes (numpy.dtypes.Float32DType, ...), pickled with arrays on numpy >= 2
    return module == 'numpy.dtypes' and name.endswith('DType') and name.isidentifier()


class Unpickler(pickle.Unpickler):
    """``pickle.Unpickler`` that resolves allow-listed globals only."""

    def find_class(self, module: str, name: str) -> Any:
        if module == '__builtin__':  # protocol 2 names builtins so (pickle's fix_imports)
            module = 'builtins'
        obj = _torch_allowed().get(f'{module}.{name}')
        if obj is not None:
            return obj
        if is_allowed(module, name):
            return getattr(importlib.import_module(module), name)
        if module == 'builtins' and name == 'getattr':
            return history_buffer_method
        raise RefusedGlobal(module, name)


def load(file, **kwargs) -> Any:
    """``pickle.load`` with :class:`Unpickler` (torch calls it for legacy-format headers)."""
    return Unpickler(file, **kwargs).load()
