"""What the train command does to every config besides ``--sam``/``--ausam``/``--esam``: its run
policy. Each function edits the config in place and returns the changes, for the log.

- :func:`add_epoch_seed_hook`: ``EpochSeedHook`` in every run, so ``--resume`` at an epoch
  boundary is bit-exact, random augmentation included;
- :func:`to_compile_forward`: MMEngine's ``compile`` option run as ``CompileForwardHook``.
"""
from typing import List

from mmengine.config import Config

from ..engine.convert import add_import, short


def add_epoch_seed_hook(cfg: Config) -> List[str]:
    """``EpochSeedHook`` in ``custom_hooks``: random draws per epoch that a resume repeats
    exactly (the train command adds it to every run)."""
    hooks = list(cfg.get('custom_hooks') or [])
    if any(h.get('type') == 'EpochSeedHook' for h in hooks):
        return []
    cfg.custom_hooks = hooks + [dict(type='EpochSeedHook')]
    return ["custom_hooks += [dict(type='EpochSeedHook')] (resume-exact random draws)"] + \
        add_import(cfg)


def to_compile_forward(cfg: Config) -> List[str]:
    """MMEngine's ``compile`` (the Runner compiles ``model.train_step``, data preprocessor and
    optimizer step included) becomes ``CompileForwardHook`` with the same ``torch.compile``
    options (the model's forward compiled; the data preprocessor and the optimizer wrapper's
    step eager). The train command calls it on every config: ``compile=True`` then trains
    MMPose models, whose data preprocessor Dynamo cannot trace, and AUSAM runs (their
    per-sample ``dataset_index`` recompiles MMEngine's ``ImgDataPreprocessor``). A hook
    already in ``custom_hooks`` takes the options. ``compile=False`` (or unset): nothing."""
    option = cfg.get('compile')
    if option is None or option is False:
        return []
    if option is not True and not isinstance(option, dict):
        raise TypeError(f"'compile' must be True, False or a dict of torch.compile options, got "
                        f'{option!r}')
    options = {} if option is True else dict(option)
    cfg.pop('compile')
    hooks = list(cfg.get('custom_hooks') or [])
    hook = next((h for h in hooks if h.get('type') == 'CompileForwardHook'), None)
    if hook is None:
        hook = dict(type='CompileForwardHook')
        hooks.append(hook)
    hook.update(options)
    cfg.custom_hooks = hooks
    return [f'compile={option!r} -> custom_hooks: {short(hook)} (torch.compile of the '
            "model's forward; the data preprocessor and the optimizer wrapper's step run "
            'eagerly)'] + add_import(cfg)
