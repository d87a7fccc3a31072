"""Checks of user options at construction: type, finiteness and range, each error naming the
option, the value and what is accepted (``ratio='abc'`` fails where it is written, not deep
inside the first draw). Plain Python; the wrappers, the sampler and the scores call these."""
import math
from numbers import Integral, Real
from typing import Any, List, Mapping, Optional, Tuple


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


def option_changes(saved: Mapping[str, Any], current: Mapping[str, Any]
                   ) -> List[Tuple[str, Any, Any]]:
    """``(name, saved value, current value)`` of every option that differs between a
    checkpoint's options and the config's (names only one side has are skipped: a score
    changed for another has its own options)."""
    return [(name, old, current[name]) for name, old in saved.items()
            if name in current and current[name] != old]


def config_value_used(name: str, saved: Any, current: Any) -> str:
    """The log line's words for an option that resumes with the config's value."""
    return f"{name}={current} (the config's) is used; the checkpoint ran {name}={saved}"
