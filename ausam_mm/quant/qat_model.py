"""``BrevitasQATModel``: quantization-aware training of any MMEngine model, from its config.

Examples:
    >>> model = dict(
    >>>     type='BrevitasQATModel',
    >>>     model=dict(type='ImageClassifier', ...),        # any model config of the scope
    >>>     weight_bit_width=4, act_bit_width=4, first_last_bit_width=8,
    >>>     quantizer='lsq', skip=[])
    >>> # SAM/AUSAM perturb the weights, not the quantizers' learned scales (still trained):
    >>> optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    >>>     '.scaling_impl.value': dict(sam_perturb=False)}))
"""
import logging
from typing import Optional, Sequence, Union

from mmengine.config import ConfigDict
from mmengine.logging import print_log
from mmengine.registry import MODELS
from torch import nn

from ..compat.torch_version import register_load_state_dict_pre_hook

# Brevitas (seconds to import) is imported when a model is quantized, not by `import ausam_mm`.

#: the ``paramwise_cfg.custom_keys`` key that matches the quantizers' learned scales (their
#: parameters are named ``...scaling_impl.value``): the line that keeps SAM off them is
#: ``custom_keys={SCALES_KEY: dict(sam_perturb=False)}``
SCALES_KEY = '.scaling_impl.value'


class KeepQuantizersOnLoad:
    """Load a state dict into the quantizers' existing parameters, not into new ones.

    By default (``brevitas.config.REINIT_ON_STATE_DICT_LOAD``) every Brevitas quant proxy
    rebuilds its quantizer, with new scale ``Parameter`` objects, whenever a state dict is
    loaded. MMEngine builds the optimizer before ``load_from``/resume, so the rebuilt scales
    would no longer be the ones the optimizer trains. These hooks switch the flag off
    for the duration of one load of the model (the values are still loaded, in place).
    """

    def __init__(self) -> None:
        self.saved = []

    def pre(self, *args, **kwargs) -> None:
        from brevitas import config
        self.saved.append(config.REINIT_ON_STATE_DICT_LOAD)
        config.REINIT_ON_STATE_DICT_LOAD = False

    def post(self, *args, **kwargs) -> None:
        from brevitas import config
        if self.saved:
            config.REINIT_ON_STATE_DICT_LOAD = self.saved.pop()

    def register(self, model: nn.Module) -> None:
        register_load_state_dict_pre_hook(model, self.pre)
        model.register_load_state_dict_post_hook(self.post)


def quantize_model(model: nn.Module, weight_bit_width: int = 4, act_bit_width: int = 4,
                   first_last_bit_width: Optional[int] = 8, quantizer: str = 'lsq',
                   skip: Sequence[str] = (), first_last_layers: Optional[Sequence[str]] = None,
                   collect_stats_steps: Optional[int] = None) -> nn.Module:
    """Quantize ``model``'s conv/linear layers in place and return it (the options are those
    of :func:`build_qat_model`)."""
    from .layerwise import UNMAPPED, format_plan, plan_layers, quantize_layers_
    plans = plan_layers(model, weight_bit_width, act_bit_width, first_last_bit_width,
                        skip=skip, first_last_layers=first_last_layers)
    quantize_layers_(model, plans, quantizer, skip=skip,
                     collect_stats_steps=collect_stats_steps)
    KeepQuantizersOnLoad().register(model)
    print_log(format_plan(plans, quantizer), logger='current')
    unmapped = [p.name for p in plans if p.note.startswith(UNMAPPED)]
    if unmapped:
        print_log(f'BrevitasQATModel: {unmapped} stay in float (no Brevitas layer is mapped '
                  'for their type); add them to skip=[...] to silence this warning.',
                  logger='current', level=logging.WARNING)
    return model


@MODELS.register_module(name='BrevitasQATModel')
def build_qat_model(model: Union[dict, ConfigDict], weight_bit_width: int = 4,
                    act_bit_width: int = 4, first_last_bit_width: Optional[int] = 8,
                    quantizer: str = 'lsq', skip: Sequence[str] = (),
                    first_last_layers: Optional[Sequence[str]] = None,
                    collect_stats_steps: Optional[int] = None,
                    data_preprocessor: Optional[dict] = None,
                    perturb_quant_params: Optional[bool] = None) -> nn.Module:
    """Build ``model`` with the registry of the current scope and quantize it for QAT.

    Why a builder and not a wrapper module: the result *is* the inner model (its class,
    ``train_step``, ``data_preprocessor``, ``parse_losses``, attributes that hooks and
    visualizers read, and state-dict keys, plus the quantizers' scales), with its
    ``nn.Conv*``/``nn.Linear`` children swapped for Brevitas layers. So MMEngine's Runner,
    DDP, the SAM/AUSAM wrappers, MMPose/mmpretrain hooks and checkpoints treat it exactly as
    the float model, and a float checkpoint loads into it by ``load_from`` (the scales then
    initialise from the loaded weights). A wrapper class would rename every key and hide the
    inner model's methods and attributes.

    Args:
        model: the inner model's config (``type`` from the current ``default_scope``).
        weight_bit_width: bits of every quantized weight, except first/last layers.
        act_bit_width: bits of every quantized layer's input, except first/last layers.
        first_last_bit_width: weight and input bits of the first and last layers (the paper's
            8); None: same as the others.
        quantizer: ``'lsq'`` (learned per-channel weight scales and per-tensor input scales,
            MSE-initialised) or ``'int'`` (Brevitas's defaults); see
            :mod:`ausam_mm.quant.quantizers`.
        skip: module names kept in float, with everything under them (e.g. ``['head']``).
        first_last_layers: names of the layers at ``first_last_bit_width``; None: the first
            and the last conv/linear layer in module order.
        collect_stats_steps: training forwards over which input scales are initialised
            (Brevitas's default: 300). SAM runs two forwards per step.
        data_preprocessor: set by the Runner from a top-level ``data_preprocessor``; passed on
            to the inner model unless it has its own.
        perturb_quant_params: refused (ausam_mm 0.1's option): whether SAM perturbs the
            quantizers' learned parameters is the param-group key ``sam_perturb``, set in the
            optimizer's config (see the module's example and :class:`SAMMixin`).

    Note:
        The table of layers and bit widths goes to the current MMEngine logger; layers with
        weights that no Brevitas layer replaces are listed and warned about. A subclass of a
        torch layer that redefines ``forward`` raises ``ValueError`` (add it to ``skip``).
    """
    if perturb_quant_params is not None:
        raise ValueError(
            f'BrevitasQATModel(perturb_quant_params={perturb_quant_params!r}): whether SAM '
            "perturbs the quantizers' learned parameters is the optimizer's param-group key "
            '`sam_perturb` since ausam_mm 0.2 (default True: perturbed). Remove the option; to '
            "leave the quantizers' scales unperturbed, write\n    optim_wrapper = dict("
            f"paramwise_cfg=dict(custom_keys={{{SCALES_KEY!r}: dict(sam_perturb=False)}}))")
    model = dict(model)
    if data_preprocessor is not None:
        model.setdefault('data_preprocessor', data_preprocessor)
    inner = MODELS.build(model)
    return quantize_model(inner, weight_bit_width, act_bit_width, first_last_bit_width,
                          quantizer, skip, first_last_layers, collect_stats_steps)


BrevitasQATModel = build_qat_model
