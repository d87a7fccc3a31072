"""Swap a model's conv/linear layers for Brevitas quantized layers, in place, by name.

Owns the *plan* (which layer gets which bit width, which are kept in float and why) and hands
the replacement itself to Brevitas's ``brevitas.graph.quantize.layerwise_quantize``: no FX
tracing, so any MMEngine model works (MMPose models do not trace). Brevitas matches layers by
their exact class, so the plan adds every subclass found in the model (mmcv's ``Conv2d``,
``ConvTranspose2d``, ``Linear`` wrappers ...) to the layer map: nothing is skipped silently.

Each quantized layer quantizes its weight and its input (layerwise quantization: the
activations that feed every conv/linear layer are quantized, whatever produced them).
"""
import difflib
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Type

import brevitas.nn as qnn
from brevitas.graph.quantize import layerwise_quantize
from brevitas.nn.quant_layer import QuantWeightBiasInputOutputLayer
from torch import nn

from .quantizers import layer_quant_kwargs

#: torch layer -> its Brevitas counterpart (subclasses map through their torch base)
QUANT_LAYERS: Dict[Type[nn.Module], Type[nn.Module]] = {
    nn.Conv1d: qnn.QuantConv1d,
    nn.Conv2d: qnn.QuantConv2d,
    nn.Conv3d: qnn.QuantConv3d,
    nn.ConvTranspose1d: qnn.QuantConvTranspose1d,
    nn.ConvTranspose2d: qnn.QuantConvTranspose2d,
    nn.ConvTranspose3d: qnn.QuantConvTranspose3d,
    nn.Linear: qnn.QuantLinear,
}

#: modules whose subclasses of the layers above only add what torch itself now does (mmcv's
#: wrappers handle empty tensors for torch < 1.4-1.6); their ``forward`` may be replaced
SAME_FORWARD_MODULES = ('mmcv.cnn.bricks.wrappers', )

#: torch layers with weights that Brevitas quantizes with other classes, not supported here
UNSUPPORTED = (nn.MultiheadAttention, nn.RNNBase)

_FORWARD_METHODS = ('forward', '_conv_forward')

#: note of a layer with weights that stays float because no Brevitas layer is mapped for it
UNMAPPED = 'float: no Brevitas layer mapped'


@dataclass
class LayerPlan:
    """What happens to one layer: quantized at ``weight_bits``/``act_bits``, or kept float."""

    name: str
    layer_type: str
    quant_type: Optional[str] = None  # the Brevitas class; None: kept in float
    weight_bits: Optional[int] = None
    act_bits: Optional[int] = None
    note: str = ''

    @property
    def quantized(self) -> bool:
        return self.quant_type is not None


def torch_base(module: nn.Module) -> Optional[Type[nn.Module]]:
    """The torch layer class in :data:`QUANT_LAYERS` that ``module`` is, or None."""
    for cls in type(module).__mro__:
        if cls in QUANT_LAYERS:
            return cls
    return None


def _own_forward(cls: type, base: type) -> Optional[type]:
    """The first class between ``cls`` and ``base`` that redefines the computation."""
    for klass in cls.__mro__:
        if klass is base:
            return None
        if klass.__module__ in SAME_FORWARD_MODULES:
            continue
        if any(m in vars(klass) for m in _FORWARD_METHODS):
            return klass
    return None


def _walk(module: nn.Module, prefix: str = '') -> Iterator[Tuple[str, nn.Module]]:
    """(name, module) top-down, not descending into conv/linear layers, Brevitas layers or
    unsupported containers (what Brevitas's layerwise walk replaces or passes over whole)."""
    for name, child in module.named_children():
        full = f'{prefix}.{name}' if prefix else name
        yield full, child
        if not (isinstance(child, (QuantWeightBiasInputOutputLayer, UNSUPPORTED))
                or torch_base(child) is not None):
            yield from _walk(child, full)


def plan_layers(model: nn.Module, weight_bit_width: int, act_bit_width: int,
                first_last_bit_width: Optional[int] = 8, skip: Sequence[str] = (),
                first_last_layers: Optional[Sequence[str]] = None) -> List[LayerPlan]:
    """Decide, for every conv/linear layer of ``model``, its bit widths or why it stays float.

    ``first_last_layers`` None: the first and the last conv/linear layer in module order (the
    stem and the classifier of a backbone-neck-head model), counted before ``skip``, so that a
    skipped head keeps the network's last layer in float rather than promoting another one.

    Raises:
        ValueError: a name in ``skip``/``first_last_layers`` that is not in the model, or a
            subclass of a torch layer that redefines ``forward`` (replacing it would silently
            change the model); the message names the layer and the fix.
    """
    names = dict(model.named_modules())
    for option, values in (('skip', skip), ('first_last_layers', first_last_layers or ())):
        for name in values:
            if name not in names or name == '':
                close = difflib.get_close_matches(name, list(names), n=3)
                raise ValueError(f'{option}: {name!r} is not a module of '
                                 f'{type(model).__name__}; close names: {close}')
    entries = list(_walk(model))
    candidates = [n for n, m in entries if torch_base(m) is not None
                  and not isinstance(m, QuantWeightBiasInputOutputLayer)]
    if first_last_layers is None:
        first_last = {candidates[0], candidates[-1]} if candidates else set()
    else:
        first_last = set(first_last_layers)
        not_layers = sorted(first_last - set(candidates))
        if not_layers:
            raise ValueError(f'first_last_layers: {not_layers} are not conv/linear layers; '
                             f'the first and last ones are {candidates[:1] + candidates[-1:]}')

    def skipped_by(name: str) -> Optional[str]:
        return next((s for s in skip if name == s or name.startswith(s + '.')), None)

    plans = []
    for name, module in entries:
        layer_type = f'{type(module).__module__}.{type(module).__name__}'
        short_type = type(module).__name__
        base = torch_base(module)
        by = skipped_by(name)
        if isinstance(module, QuantWeightBiasInputOutputLayer):
            plans.append(LayerPlan(name, short_type, note='already a Brevitas layer, kept'))
        elif base is not None and by is not None:
            plans.append(LayerPlan(name, short_type, note=f'float (skip: {by})'))
        elif base is not None:
            redefined = _own_forward(type(module), base)
            if redefined is not None:
                raise ValueError(
                    f'{name} is a {layer_type}, a subclass of torch.nn.{base.__name__} that '
                    f'redefines forward() (in {redefined.__name__}); a Brevitas '
                    f'{QUANT_LAYERS[base].__name__} would silently drop that behaviour. Add '
                    f"'{name}' (or its parent) to skip=[...] to keep it in float.")
            bits = (weight_bit_width, act_bit_width)
            if name in first_last and first_last_bit_width is not None:
                bits = (first_last_bit_width, first_last_bit_width)
            plans.append(LayerPlan(name, short_type, QUANT_LAYERS[base].__name__, *bits,
                                   note='first/last' if name in first_last else ''))
        elif by is None:
            weights = [n for n, p in module.named_parameters(recurse=False) if p.dim() >= 2]
            if weights or isinstance(module, UNSUPPORTED):
                owned = f" (owns {', '.join(weights)})" if weights else ''
                plans.append(LayerPlan(name, short_type,
                                       note=UNMAPPED + owned))
    return plans


def quantize_layers_(model: nn.Module, plans: Sequence[LayerPlan], quantizer: str = 'lsq',
                     skip: Sequence[str] = (),
                     collect_stats_steps: Optional[int] = None) -> nn.Module:
    """Apply ``plans`` to ``model`` in place with Brevitas's layerwise quantization.

    One ``layerwise_quantize`` call per bit-width pair: its layer map holds the classes of
    that group's layers; ``skip`` and every other layer of the plan are on its name blacklist.
    """
    modules = dict(model.named_modules())
    groups: Dict[Tuple[int, int], List[str]] = {}
    for plan in plans:
        if plan.quantized:
            groups.setdefault((plan.weight_bits, plan.act_bits), []).append(plan.name)
    planned = [p.name for p in plans]
    for (weight_bits, act_bits), names in groups.items():
        kwargs = layer_quant_kwargs(quantizer, weight_bits, act_bits, collect_stats_steps)
        layer_map = {type(modules[n]): (QUANT_LAYERS[torch_base(modules[n])], kwargs)
                     for n in names}
        blacklist = [n for n in planned if n not in names] + list(skip)
        layerwise_quantize(model, compute_layer_map=layer_map, name_blacklist=blacklist)
    return model


def quant_parameters(model: nn.Module) -> Iterator[Tuple[str, nn.Parameter]]:
    """The learned quantizer parameters (scales ...) of every Brevitas layer in ``model``."""
    for name, module in model.named_modules():
        if isinstance(module, QuantWeightBiasInputOutputLayer):
            for pname, param in module.named_parameters():
                if pname not in ('weight', 'bias'):
                    yield f'{name}.{pname}', param


def format_plan(plans: Sequence[LayerPlan], quantizer: str) -> str:
    """A plain-text table of the plan, for the log."""
    rows = [('layer', 'type', 'quantized as', 'W bits', 'A bits', 'note')]
    rows += [(p.name, p.layer_type, p.quant_type or 'float', str(p.weight_bits or '-'),
              str(p.act_bits or '-'), p.note) for p in plans]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ['  '.join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, '  '.join('-' * w for w in widths))
    done = sum(p.quantized for p in plans)
    head = f'Brevitas QAT ({quantizer}): {done} of {len(plans)} layers quantized'
    return '\n'.join([head] + lines)
