"""Checks of user options at construction: type, finiteness and range, each error naming the
option, the value and what is accepted (``ratio='abc'`` fails where it is written, not deep
inside the first draw). Plain Python; the wrappers, the sampler and the scores call these."""
import math
from numbers import Integral, Real
from typing import Any, Optional


def _show(value: Any) -> str:
    return f'{value!r} ({type(value).__name__})'


def check_real(name: str, value: Any, low: Optional[float] = None,
               high: Optional[float] = None, low_open: bool = False,
               high_open: bool = False) -> float:
    """A finite real number (int, float, numpy scalar; not bool, str or tensor) within the
    interval ``[low, high]`` (``low_open``/``high_open``: that end excluded)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f'`{name}` must be a number, got {_show(value)}')
    if not math.isfinite(value):
        raise ValueError(f'`{name}` must be finite, got {value!r}')
    below = low is not None and (value <= low if low_open else value < low)
    above = high is not None and (value >= high if high_open else value > high)
    if below or above:
        if high is None:
            allowed = f'{">" if low_open else ">="} {low}'
        elif low is None:
            allowed = f'{"<" if high_open else "<="} {high}'
        else:
            allowed = f'in {"(" if low_open else "["}{low}, {high}{")" if high_open else "]"}'
        raise ValueError(f'`{name}` must be {allowed}, got {value!r}')
    return float(value)


def check_int(name: str, value: Any, low: Optional[int] = None) -> int:
    """An integer (not bool, not a float such as 1.0) ``>= low``."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f'`{name}` must be an integer, got {_show(value)}')
    if low is not None and value < low:
        raise ValueError(f'`{name}` must be an integer >= {low}, got {value!r}')
    return int(value)


def check_bool(name: str, value: Any) -> bool:
    """``True`` or ``False`` (a string such as ``'False'`` would be truthy)."""
    if not isinstance(value, bool) and type(value).__name__ != 'bool_':  # numpy.bool_ too
        raise TypeError(f'`{name}` must be True or False, got {_show(value)}')
    return bool(value)
