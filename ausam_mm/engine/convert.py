"""Turn any MMEngine config into its SAM or AUSAM version, without editing a file.

The train command's ``--sam [k=v ...]``, ``--ausam [k=v ...]`` and ``--esam [k=v ...]``
(``python -m ausam_mm.cli.train CONFIG --ausam``) call these; so can users who build configs
in code::

    from mmengine.config import Config
    from ausam_mm.engine.convert import to_ausam
    cfg = Config.fromfile('mmpose::body_2d_keypoint/simcc/mpii/...py')
    changes = to_ausam(cfg, ratio=0.5, rho=0.05)   # edits cfg in place, returns what it did

What changes: the optimizer wrapper's type (its optimizer, ``paramwise_cfg``, ``clip_grad`` and
accumulation are kept; AMP stays AMP), and for AUSAM the train dataloader's batch sampler, the
dataset wrapper that carries sample indices, ``AUSAMHook`` in ``custom_hooks`` (the link
between sampler and wrapper) and per-sample losses in the model (each framework adapter in
the registry :data:`PER_SAMPLE_ADAPTERS` rewrites the loss configs it knows); ESAM needs the
per-sample losses only. ``to_sam`` and ``to_esam`` on an AUSAM config take the sampler, the
hook and the dataset wrapper out again (full batches; per-sample losses are averaged by MMEngine as
before). ``custom_imports`` gains ``ausam_mm``, so the dumped config reruns as is. Converting
twice is the same as converting once.

``to_compile_forward`` turns MMEngine's ``compile`` option into ``CompileForwardHook`` (the
model's forward compiled, the data preprocessor and the optimizer step eager).
"""
import inspect
from typing import Any, Dict, List

from mmengine.config import Config
from mmengine.registry import Registry

from .samplers.ausam_sampler import AUSAMBatchSampler, sampler_defaults
from .optim_wrappers.esam import ESAMMixin
from .optim_wrappers.sam import DEFAULT_RHO, SAMMixin

#: Per-sample loss rewriters, one per framework adapter (``ausam_mm.pose``, ``ausam_mm.cls``
#: register theirs when imported): functions that take the model config (and the keyword
#: ``batch_size``, the train dataloader's), rewrite its losses to per-sample ones in place and
#: return a description of each change. A new framework registers its own::
#:
#:     @PER_SAMPLE_ADAPTERS.register_module(name='mmdet')
#:     def per_sample_det_losses(model_cfg, batch_size=None): ...
PER_SAMPLE_ADAPTERS = Registry('per-sample loss adapter')

_PLAIN = ('OptimWrapper', 'AmpOptimWrapper')
_OURS = {
    'sam': ('SAMOptimWrapper', 'AmpSAMOptimWrapper'),
    'ausam': ('AUSAMOptimWrapper', 'AmpAUSAMOptimWrapper'),
    'esam': ('ESAMOptimWrapper', 'AmpESAMOptimWrapper'),
}


def _arg_names(func) -> set:
    return {n for n in inspect.signature(func).parameters if n not in ('self', 'args', 'kwargs')}


WRAPPER_OPTIONS = _arg_names(SAMMixin.__init__)
SAMPLER_OPTIONS = _arg_names(AUSAMBatchSampler.__init__) - {'sampler', 'batch_size'}
ESAM_OPTIONS = WRAPPER_OPTIONS | _arg_names(ESAMMixin.__init__)


def to_sam(cfg: Config, **options: Any) -> List[str]:
    """SAM on every sample: ``optim_wrapper`` becomes ``SAMOptimWrapper`` (or its AMP twin);
    an AUSAM config loses its batch sampler, ``AUSAMHook`` and ``IndexedDataset``."""
    _check_options(options, WRAPPER_OPTIONS, 'sam')
    changes = _set_wrapper(cfg, 'sam', options)
    return changes + _remove_ausam_data(cfg) + add_import(cfg)


def to_ausam(cfg: Config, **options: Any) -> List[str]:
    """AUSAM: the wrapper, the batch sampler, the index-carrying dataset, per-sample losses."""
    _check_options(options, WRAPPER_OPTIONS | SAMPLER_OPTIONS, 'ausam')
    wrapper_opts = {k: v for k, v in options.items() if k in WRAPPER_OPTIONS}
    sampler_opts = {k: v for k, v in options.items() if k in SAMPLER_OPTIONS}
    changes = _set_wrapper(cfg, 'ausam', wrapper_opts)
    changes += _set_sampler(cfg, sampler_opts)
    changes += _add_hook(cfg)
    changes += _per_sample_losses(cfg)
    return changes + add_import(cfg)


def to_esam(cfg: Config, **options: Any) -> List[str]:
    """ESAM: ``ESAMOptimWrapper`` (or its AMP twin) and per-sample losses; the data pipeline
    stays as it is (an AUSAM config loses its batch sampler, ``AUSAMHook`` and
    ``IndexedDataset``)."""
    _check_options(options, ESAM_OPTIONS, 'esam')
    changes = _set_wrapper(cfg, 'esam', options)
    changes += _remove_ausam_data(cfg)
    changes += _per_sample_losses(cfg)
    return changes + add_import(cfg)


def to_amp(cfg: Config) -> List[str]:
    """``--amp``: our wrappers switch to their AMP twins, MMEngine's to ``AmpOptimWrapper``."""
    wrapper = cfg.optim_wrapper
    kind = wrapper.get('type', 'OptimWrapper')
    amp_of = {plain: amp for plain, amp in (_PLAIN, *_OURS.values())}
    if kind in amp_of.values():
        return []
    if kind not in amp_of:
        raise ValueError(f'--amp supports OptimWrapper and the ausam_mm wrappers, not {kind!r}; '
                         'set the AMP wrapper type in the config instead.')
    wrapper.type = amp_of[kind]
    wrapper.setdefault('loss_scale', 'dynamic')
    return [f'optim_wrapper.type: {kind} -> {wrapper.type} (loss_scale={wrapper.loss_scale})']


def _check_options(options: Dict, valid: set, flag: str) -> None:
    unknown = sorted(set(options) - valid)
    if unknown:
        raise ValueError(f'--{flag}: unknown option(s) {unknown}; valid: {sorted(valid)}')


def _set_wrapper(cfg: Config, kind: str, options: Dict) -> List[str]:
    wrapper = cfg.optim_wrapper
    old = wrapper.get('type', 'OptimWrapper')
    if old in _OURS[kind]:
        new = old
    elif old in _PLAIN + sum(_OURS.values(), ()):
        new = _OURS[kind][int('Amp' in old)]
    else:
        raise ValueError(f'cannot convert optim_wrapper of type {old!r} to {kind.upper()}: '
                         "only 'OptimWrapper', 'AmpOptimWrapper' and ausam_mm's wrappers are "
                         'known. Set the wrapper in the config by hand.')
    wrapper.type = new
    wrapper.update(options)
    # the radius in use, also when neither the config nor the command line sets it
    shown = {'rho': wrapper.get('rho', DEFAULT_RHO), **options}
    opts = ', '.join(f'{k}={v!r}' for k, v in shown.items())
    return [f'optim_wrapper.type: {old} -> {new} ({opts})']


def _set_sampler(cfg: Config, options: Dict) -> List[str]:
    loader = cfg.train_dataloader
    changes = []
    current = loader.get('batch_sampler')
    if current is not None and current.get('type') != 'AUSAMBatchSampler':
        raise ValueError(f'train_dataloader already has a batch_sampler ({current.get("type")}); '
                         'AUSAMBatchSampler replaces it. Remove it from the config first.')
    # the ratio in use is written out, as the radius is (the default read from the sampler)
    sampler = dict(type='AUSAMBatchSampler', ratio=sampler_defaults()['ratio'])
    sampler.update(current or {})
    sampler.update(options)
    loader.batch_sampler = sampler
    changes.append('train_dataloader.batch_sampler = ' + short(sampler))
    if loader.dataset.get('type') != 'IndexedDataset':
        loader.dataset = dict(type='IndexedDataset', dataset=loader.dataset)
        changes.append(f"train_dataloader.dataset wrapped in IndexedDataset "
                       f"(inner: {loader.dataset.dataset.get('type')})")
    return changes


def _per_sample_losses(cfg: Config) -> List[str]:
    changes = []
    for adapt in PER_SAMPLE_ADAPTERS.module_dict.values():
        changes += adapt(cfg.model, batch_size=cfg.train_dataloader.get('batch_size'))
    return changes


def _add_hook(cfg: Config) -> List[str]:
    hooks = list(cfg.get('custom_hooks') or [])
    if any(h.get('type') == 'AUSAMHook' for h in hooks):
        return []
    cfg.custom_hooks = hooks + [dict(type='AUSAMHook')]
    return ["custom_hooks += [dict(type='AUSAMHook')] (links sampler and wrapper)"]


def _remove_ausam_data(cfg: Config) -> List[str]:
    changes = []
    loader = cfg.get('train_dataloader') or {}
    sampler = loader.get('batch_sampler')
    if sampler is not None and sampler.get('type') == 'AUSAMBatchSampler':
        loader.pop('batch_sampler')
        changes.append('train_dataloader.batch_sampler removed (AUSAMBatchSampler): full batches')
    dataset = loader.get('dataset')
    if dataset is not None and dataset.get('type') == 'IndexedDataset':
        loader.dataset = dataset.dataset
        changes.append('train_dataloader.dataset: IndexedDataset unwrapped')
    hooks = cfg.get('custom_hooks') or []
    kept = [h for h in hooks if h.get('type') != 'AUSAMHook']
    if len(kept) != len(hooks):
        cfg.custom_hooks = kept
        changes.append("custom_hooks: AUSAMHook removed")
    return changes


def add_import(cfg: Config) -> List[str]:
    imports = cfg.get('custom_imports') or dict(imports=[], allow_failed_imports=False)
    names = list(imports.get('imports', []))
    if 'ausam_mm' in names:
        return []
    imports['imports'] = names + ['ausam_mm']
    cfg.custom_imports = imports
    return ["custom_imports += ['ausam_mm']"]


def short(d: Dict) -> str:
    return 'dict(' + ', '.join(f'{k}={v!r}' for k, v in d.items()) + ')'
