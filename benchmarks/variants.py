"""The one table of training variants that the benchmarks, the plots and the demo compare.

A variant is a name for "this config, trained with that conversion and those options": the
base optimizer as the config has it, SAM, AUSAM at some ratio, random-subset SAM, ...
The speed and label-noise benchmarks, the plots and ``benchmarks/demo.py`` read :data:`VARIANTS`,
so adding a variant is one row here::

    'ausam_0.7': Variant('ausam', dict(ratio=0.7), 'AUSAM 0.7', 'tab:pink'),

A row names its conversion by the ``tools/train.py`` flag that applies it (``'sam'`` ->
``--sam``, i.e. :func:`~ausam_mm.engine.convert.to_sam`), so every variant is also a command
line (:func:`train_args`). A new conversion is one row of :data:`CONVERSIONS`.

Usage::

    from benchmarks.variants import apply_variant
    apply_variant(cfg, 'ausam_0.5', rho=0.1, ramp_epochs=3)   # edits cfg, returns the changes

The keyword settings are the run's settings for the SAM family (``rho``, AUSAM's ``ramp_*``,
...): each variant receives those its conversion accepts (the base optimizer none, SAM no
sampler option). A setting that no conversion accepts, or that contradicts the variant's own
options, is an error.
"""
from typing import Any, Callable, Dict, FrozenSet, List, NamedTuple, Optional

from mmengine.config import Config

from ausam_mm.core.selection import score_options
from ausam_mm.engine.convert import (ESAM_OPTIONS, SAMPLER_OPTIONS, WRAPPER_OPTIONS, to_ausam,
                                     to_esam, to_sam)
from ausam_mm.engine.samplers.ausam_sampler import sampler_defaults


class Conversion(NamedTuple):
    """How to turn a config into a variant: the function, its options, whether it draws
    subsets (a batch sampler that keeps a per-sample score history)."""
    apply: Callable[..., List[str]]
    options: FrozenSet[str]
    sampler: bool


class Variant(NamedTuple):
    """One row: the conversion (``None``: the config's own optimizer), its options, and how
    plots and tables name and colour it."""
    conversion: Optional[str]
    options: Dict[str, Any]
    label: str
    color: str


CONVERSIONS: Dict[str, Conversion] = {
    'sam': Conversion(to_sam, frozenset(WRAPPER_OPTIONS), sampler=False),
    'ausam': Conversion(to_ausam, frozenset(WRAPPER_OPTIONS | SAMPLER_OPTIONS), sampler=True),
    'esam': Conversion(to_esam, frozenset(ESAM_OPTIONS), sampler=False),
}

VARIANTS: Dict[str, Variant] = {
    'base': Variant(None, {}, 'base optimizer', 'tab:gray'),
    'sam': Variant('sam', {}, 'SAM', 'tab:blue'),
    'ausam_0.3': Variant('ausam', dict(ratio=0.3), 'AUSAM 0.3', 'tab:olive'),
    'ausam_0.5': Variant('ausam', dict(ratio=0.5), 'AUSAM 0.5', 'tab:red'),
    'ausam_1.0': Variant('ausam', dict(ratio=1.0), 'AUSAM 1.0', 'tab:purple'),
    'ausam_0.7': Variant('ausam', dict(ratio=0.7), 'AUSAM 0.7', 'tab:pink'),
    'ausam_unbiased_0.5': Variant('ausam', dict(ratio=0.5, importance_weights=True),
                                  'AUSAM unbiased 0.5', 'tab:brown'),
    'random_0.3': Variant('ausam', dict(ratio=0.3, score='uniform'), 'random 0.3',
                          'yellowgreen'),
    'random_0.5': Variant('ausam', dict(ratio=0.5, score='uniform'), 'random 0.5', 'tab:green'),
    'random_0.7': Variant('ausam', dict(ratio=0.7, score='uniform'), 'random 0.7',
                          'darkgreen'),
    'sam_every_2': Variant('sam', dict(interval=2), 'SAM every 2', 'tab:cyan'),
    'esam_0.5': Variant('esam', dict(gamma=0.5), 'ESAM 0.5', 'tab:orange'),
    'sam_late_0.25': Variant('sam', dict(begin=0.75), 'SAM last 25 %', 'navy'),
    'ausam_late_0.25': Variant('ausam', dict(ratio=0.5, begin=0.75), 'AUSAM 0.5 last 25 %',
                               'darkred'),
    'sam_random_0.5': Variant('sam', dict(probability=0.5), 'SAM p=0.5', 'teal'),
}


def variant_options(name: str, **settings: Any) -> Dict[str, Any]:
    """The options the variant's conversion gets: the settings it accepts plus its own."""
    variant = _get(name)
    known = set().union(*(c.options for c in CONVERSIONS.values()))
    unknown = sorted(set(settings) - known)
    if unknown:
        raise ValueError(f'variant settings {unknown} are not options of any conversion '
                         f'({sorted(CONVERSIONS)}); valid: {sorted(known)}')
    if variant.conversion is None:
        return {}
    clash = sorted(k for k in set(settings) & set(variant.options)
                   if settings[k] != variant.options[k])
    if clash:
        raise ValueError(f'variant {name!r} fixes {clash} to '
                         f'{[variant.options[k] for k in clash]}; drop them from the settings '
                         'or pick another variant')
    accepted = CONVERSIONS[variant.conversion].options
    if variant.options.get('score', 'ausam') != 'ausam':  # f_min, ramp_*: 'ausam' options
        accepted = accepted - set(score_options('ausam'))
    options = dict(variant.options)
    options.update((k, v) for k, v in settings.items() if k in accepted)
    return options


def apply_variant(cfg: Config, name: str, **settings: Any) -> List[str]:
    """Convert ``cfg`` in place to variant ``name``; returns the changes made (as ``--sam``/
    ``--ausam`` log them). ``'base'`` leaves the config as it is."""
    variant = _get(name)
    options = variant_options(name, **settings)
    if variant.conversion is None:
        return []
    return CONVERSIONS[variant.conversion].apply(cfg, **options)


def train_args(name: str, **settings: Any) -> List[str]:
    """The ``tools/train.py`` arguments that apply the variant, e.g.
    ``['--ausam', 'ratio=0.5', 'rho=0.05']``; ``[]`` for the base optimizer."""
    variant = _get(name)
    options = variant_options(name, **settings)
    if variant.conversion is None:
        return []
    return [f'--{variant.conversion}', *(f'{k}={v}' for k, v in options.items())]


def uses_sampler(name: str) -> bool:
    """Whether the variant draws subsets: its checkpoints hold a per-sample score history."""
    variant = _get(name)
    return variant.conversion is not None and CONVERSIONS[variant.conversion].sampler


def ideal_passes(name: str) -> float:
    """The analytic cost of a step of the variant, in forward + backward passes per candidate
    sample (the base optimizer's step is 1; a forward alone, 1/3: its backward costs about
    twice as much), averaged over the training, with its own options and the conversions'
    defaults (docs/ausam.md, "Which one to use"). AUSAM's warm-up epochs are left out.

    In the SAM phase (a fraction ``s = end - begin`` of the training), 1 update in
    ``interval`` (k) is a SAM one with ``probability`` p: ``(p c + 1 - p + k - 1) / k`` for a
    SAM step of cost c (SAM 2, ESAM ``1 + 1/3 + gamma``); AUSAM ``ratio x (k + p) / k`` (its
    plain steps train on the drawn subset). Outside the phase, the base optimizer's 1.
    """
    variant = _get(name)
    if variant.conversion is None:
        return 1.0
    options = variant.options
    k = options.get('interval', 1)
    p = options.get('probability', 1.0)
    begin, end = options.get('begin', 0), options.get('end', 1.0)
    if not all(isinstance(b, float) or b == 0 for b in (begin, end)):
        raise ValueError(f'variant {name!r}: the analytic cost needs begin/end as fractions of '
                         f'the training (floats), got begin={begin!r}, end={end!r}')
    share = float(end) - float(begin)
    if variant.conversion == 'ausam':
        in_phase = options.get('ratio', sampler_defaults()['ratio']) * (k + p) / k
    else:
        if variant.conversion == 'sam':
            sam_step = 2.0
        else:  # esam: ascent, ranking forward, descent on gamma of the batch
            left_out = 1 - options.get('perturb_fraction', 1.0)
            sam_step = 1 - left_out / 3 + 1 / 3 + options.get('gamma', 0.5)
        in_phase = (p * sam_step + 1 - p + k - 1) / k
    return (1 - share) + share * in_phase


def _get(name: str) -> Variant:
    if name not in VARIANTS:
        raise ValueError(f'unknown variant {name!r}; known: {sorted(VARIANTS)} '
                         '(benchmarks/variants.py)')
    return VARIANTS[name]
