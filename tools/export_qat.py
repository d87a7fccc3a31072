"""Export a trained Brevitas QAT checkpoint to ONNX (QCDQ) with Brevitas's own exporter.

The graph is the model's ``mode='tensor'`` forward (logits for mmpretrain classifiers, the
head's outputs for MMPose estimators) on an already *preprocessed* input: the config's
``data_preprocessor`` (mean/std, BGR->RGB) is not part of it. Quantized tensors appear as
``QuantizeLinear -> Clip -> DequantizeLinear`` (the Clip narrows int8 to the layer's bit width).
When onnxruntime is installed the exported file is run on the same input and compared with the
PyTorch model.

Needs the optional packages ``onnx``, ``onnxoptimizer`` (Brevitas's QCDQ exporter imports it)
and ``onnxscript`` (torch.export-based exporter, the default; not with ``--torchscript``), and
``onnxruntime`` for the check: ``pip install onnx onnxscript onnxoptimizer onnxruntime`` (the
versions of requirements/lock.txt).

Examples:
    python tools/export_qat.py configs/qat/resnet18_cifar10_w4a4_ausam.py \\
        work_dirs/resnet18_cifar10_w4a4_ausam/epoch_200.pth --shape 3 32 32 --trust-checkpoint
    python tools/export_qat.py configs/qat/simcc_res50_w4a4_mpii-256x256.py CKPT --shape 3 256 256
"""
import argparse
import sys
from typing import Optional

from known_warnings import silence

silence()  # before the imports below: some dependencies warn while they load

from mmengine.config import Config, DictAction  # noqa: E402

from ausam_mm.quant.export import ExportError, export_qat_checkpoint  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Export a Brevitas QAT checkpoint to ONNX QCDQ')
    parser.add_argument('config', help='the QAT config the checkpoint was trained with')
    parser.add_argument('checkpoint', help='MMEngine checkpoint (.pth)')
    parser.add_argument('--out', help='output .onnx (default: next to the checkpoint)')
    parser.add_argument('--shape', type=int, nargs='+', default=[3, 32, 32],
                        help='input shape without the batch dimension (default: 3 32 32)')
    parser.add_argument('--batch', type=int, default=1, help='batch size of the example input')
    parser.add_argument('--torchscript', action='store_true',
                        help="Brevitas's TorchScript-based exporter instead of torch.export")
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='unpickle the checkpoint in full (MMEngine checkpoints hold logger '
                        'state that torch>=2.6 refuses with weights_only=True); only for files '
                        'you trust')
    parser.add_argument('--atol', type=float, default=1e-4,
                        help='largest |onnxruntime - torch| accepted, relative to max |torch|')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, key=value')
    return parser.parse_args(argv)


def main(argv=None) -> Optional[str]:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    try:
        return export_qat_checkpoint(cfg, args.checkpoint, args.out, args.shape, args.batch,
                                     args.torchscript, args.trust_checkpoint, args.atol)
    except ExportError as error:
        raise SystemExit(str(error))


if __name__ == '__main__':
    sys.exit(0 if main() else 1)
