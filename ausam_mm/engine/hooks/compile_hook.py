"""``CompileForwardHook``: ``torch.compile`` of the model's forward only, from a config.

MMEngine's ``compile`` option (``Runner._maybe_compile``) compiles ``model.train_step``, so
Dynamo also traces the data preprocessor and the optimizer wrapper's step. MMEngine's
``ImgDataPreprocessor`` (MMPose's ``PoseDataPreprocessor``, mmdet's, ...) deep-copies every
sample's metainfo there: on torch 2.14.1 MMPose's numpy metainfo stops Dynamo ("Dynamo
failed to run FX node with fake tensors ... '__deepcopy__' ... 'ndarray'", base optimizer
included), and per-sample values such as AUSAM's ``dataset_index`` make it compile the
preprocessor again for each new value. This hook compiles the model's forward instead
(``nn.Module.compile``; torch >= 2.2): every call of the model runs compiled (the train
forward, the SAM wrappers' forward at ``w + e``, validation), while the data preprocessor, the
loss bookkeeping of ``train_step`` and the optimizer wrapper's step run eagerly. It works
with any launcher and any ``tools/train.py`` (MMPose's too): the config names it.
``tools/train.py`` of this project turns ``compile`` (``--cfg-options compile=True``) into it.

Examples:
    >>> custom_hooks = [dict(type='CompileForwardHook')]   # torch.compile's defaults
    >>> custom_hooks = [dict(type='CompileForwardHook', backend='inductor', dynamic=False)]
"""
import inspect
import logging
from typing import Any

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from ...compat.torch_version import COMPILE_FORWARD_TORCH, compiles_forward

#: the options of ``torch.compile`` that the hook passes on (all but the model)
COMPILE_OPTIONS = tuple(n for n in inspect.signature(torch.compile).parameters if n != 'model')


@HOOKS.register_module()
class CompileForwardHook(Hook):
    """Compiles the model's forward (``nn.Module.compile(**options)``) when training starts.

    Args:
        **options: ``torch.compile``'s keyword options (``backend``, ``mode``, ``dynamic``,
            ``fullgraph``, ``options``, ``disable``), as MMEngine's ``compile=dict(...)``.

    - ``before_run``: refuses a config that also sets MMEngine's ``compile`` (both would
      compile the forward: Dynamo would trace ``train_step`` and the data preprocessor again).
    - ``before_train``: after the Runner has built the model, wrapped it (DDP) and loaded or
      resumed its checkpoint, compiles the unwrapped model in place: state dict keys, hooks
      and the wrapper stay as they are; DDP's forward, which calls it, runs eagerly. One INFO
      line says what is compiled.

    Note:
        Each new input shape compiles once more (a partial last batch, AUSAM's subsets, ESAM's
        descent, validation's batches; Dynamo marks a changing size dynamic after the first
        change), as do ``model.train()`` / ``model.eval()`` and the SAM wrappers' BatchNorm
        freeze of the second pass: a few graphs, compiled in the first iterations. The SAM
        wrappers' forward hooks that record the inputs run eagerly (``torch.compiler.disable``).
    """

    # after every other hook's before_train (EMAHook and the like copy the model eagerly)
    priority = 'LOWEST'

    def __init__(self, **options: Any) -> None:
        if not compiles_forward():
            raise RuntimeError(
                f'CompileForwardHook needs torch >= {COMPILE_FORWARD_TORCH}; this is torch '
                f"{torch.__version__}, whose Dynamo fails on MMPose's models (its guards on "
                "mmcv's ConvTranspose2d: 'super(type, obj): obj must be an instance or subtype "
                "of type'). Upgrade torch, or train without compiling: remove the hook "
                "(the train command: drop the 'compile' option).")
        unknown = sorted(set(options) - set(COMPILE_OPTIONS))
        if unknown:
            raise ValueError(f'CompileForwardHook: unknown option(s) {unknown}; torch.compile '
                             f'takes {list(COMPILE_OPTIONS)}.')
        self.options = options

    def before_run(self, runner) -> None:
        runner_compile = runner.cfg.get('compile')
        if runner_compile is not None and runner_compile is not False:
            raise ValueError(
                f"the config sets both MMEngine's compile={runner_compile!r} (the Runner "
                "compiles train_step) and custom_hooks' CompileForwardHook (compiles the "
                "model's forward): choose one. Delete 'compile' from the config (CompileForward"
                "Hook's options are torch.compile's: dict(type='CompileForwardHook', "
                "backend=...)), or remove the hook.")

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        model.compile(**self.options)
        options = ', '.join(f'{k}={v!r}' for k, v in self.options.items())
        wrapped = f' (inside {type(runner.model).__name__})' if model is not runner.model else ''
        runner.logger.log(
            logging.INFO,
            f"CompileForwardHook: compiled the forward of {type(model).__name__}{wrapped} "
            f'with nn.Module.compile({options}): every call of the model runs compiled (the '
            'train forward, the SAM wrappers\' forward at w + e, validation); the data '
            'preprocessor, train_step and the optimizer wrapper\'s step '
            f'({type(runner.optim_wrapper).__name__}) run eagerly.')
