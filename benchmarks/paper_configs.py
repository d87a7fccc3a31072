"""The paper's models as upstream configs on local data (nothing downloaded, no pretrained
weights), for the speed benchmark: mmpretrain's CIFAR ResNet-18 on generated images, MMPose's
SimCC ResNet-50 (256x256) on the MPII samples of ``tests/data/mpii``.

Usage::

    from benchmarks.paper_configs import cifar_resnet18
    cfg = cifar_resnet18('/tmp/cifar_images', dict(num_workers=0))

Command line: ``python -m benchmarks.paper_configs`` (from the repository root).

The paper's models as upstream configs on local synthetic data, for benchmarks/speed.py.

Writes two configs into ``OUT/cfg`` (nothing is downloaded, no pretrained weights):

- ``cifar_resnet18_synthetic.py``: mmpretrain's ``resnet/resnet18_8xb16_cifar10.py`` (CIFAR
  ResNet-18) reading ``--cifar-images`` generated 32x32 PNGs from a ``CustomDataset`` folder
  through the upstream train pipeline (a file load, then random crop with padding and flip);
- ``simcc_res50_mpii_synthetic.py``: MMPose's
  ``body_2d_keypoint/simcc/mpii/simcc_res50_wo-deconv-8xb64-210e_mpii-256x256.py`` (SimCC
  ResNet-50, 256x256 input) on the 5 MPII images of ``tests/data/mpii`` repeated 400 times,
  through the upstream train pipeline.

``dev/gpu_check.sh`` uses them on a GPU; docs/benchmarks.md times them on the CPU.

Examples:
    python -m benchmarks.paper_configs results/paper_cfg --workers 0 --cifar-images 1024
    python -m benchmarks.speed results/paper_cfg/cfg/cifar_resnet18_synthetic.py \
        --batch-size 64 --out results/speed_cpu_cifar_resnet18_bs64.json
"""
import argparse
import os
import os.path as osp
from typing import Dict, List, Optional

from mmengine.config import Config

from .synthetic import write_class_images


def upstream(package: str, *path: str) -> Config:
    """A config shipped inside an installed OpenMMLab package (its ``.mim`` folder)."""
    module = __import__(package)
    return Config.fromfile(osp.join(osp.dirname(module.__file__), '.mim', 'configs', *path))


def cifar_resnet18(images: str, loader: Dict) -> Config:
    """mmpretrain's ``resnet/resnet18_8xb16_cifar10.py`` reading the PNGs of ``images``
    (:func:`~benchmarks.synthetic.write_class_images`) from a ``CustomDataset`` folder
    through the upstream train pipeline; ``loader`` updates its train dataloader."""
    cfg = upstream('mmpretrain', 'resnet', 'resnet18_8xb16_cifar10.py')
    cfg.train_dataloader.update(loader)
    cfg.train_dataloader.dataset = dict(
        type='CustomDataset', data_root=images,
        pipeline=[dict(type='LoadImageFromFile')] + list(cfg.train_pipeline))
    return cfg


def simcc_res50_mpii(mpii_root: str, loader: Dict, times: int = 400) -> Config:
    """MMPose's ``body_2d_keypoint/simcc/mpii/simcc_res50_wo-deconv-8xb64-210e_mpii-256x256.py``
    on the images of ``mpii_root`` (``test_mpii.json``) repeated ``times`` times, through the
    upstream train pipeline; ``loader`` updates its train dataloader."""
    cfg = upstream('mmpose', 'body_2d_keypoint', 'simcc', 'mpii',
                   'simcc_res50_wo-deconv-8xb64-210e_mpii-256x256.py')
    cfg.model.backbone.init_cfg = None
    cfg.train_dataloader.update(loader)
    cfg.train_dataloader.dataset = dict(
        type='RepeatDataset', times=times,
        dataset=dict(type='MpiiDataset', data_root=mpii_root, data_mode='topdown',
                     ann_file='test_mpii.json', data_prefix=dict(img=''),
                     pipeline=list(cfg.train_pipeline)))
    return cfg


# -- command line ---------------------------------------------------------------------------

MPII = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'tests', 'data', 'mpii')


def main(argv: Optional[List[str]] = None) -> List[str]:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('out', help='folder: OUT/cfg gets the configs, OUT/cifar_images the PNGs')
    parser.add_argument('--workers', type=int, default=0, help='dataloader workers')
    parser.add_argument('--cifar-images', type=int, default=4096,
                        help='generated 32x32 PNGs (10 classes)')
    args = parser.parse_args(argv)
    loader = dict(num_workers=args.workers, persistent_workers=args.workers > 0)
    images = osp.abspath(osp.join(args.out, 'cifar_images'))
    write_class_images(images, n=args.cifar_images, size=32)
    written = []
    os.makedirs(osp.join(args.out, 'cfg'), exist_ok=True)
    for name, cfg in (('cifar_resnet18_synthetic.py', cifar_resnet18(images, loader)),
                      ('simcc_res50_mpii_synthetic.py', simcc_res50_mpii(MPII, loader))):
        path = osp.join(args.out, 'cfg', name)
        cfg.dump(path)
        written.append(path)
    print('configs written:', *written, f'(dataloader workers: {args.workers})')
    return written


if __name__ == '__main__':
    main()
