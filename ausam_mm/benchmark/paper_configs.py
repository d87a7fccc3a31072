"""The paper's models as upstream configs on local data (nothing downloaded, no pretrained
weights), for the speed benchmark: mmpretrain's CIFAR ResNet-18 on generated images, MMPose's
SimCC ResNet-50 (256x256) on the MPII samples of ``tests/data/mpii``.

Usage::

    from ausam_mm.benchmark.paper_configs import cifar_resnet18
    cfg = cifar_resnet18('/tmp/cifar_images', dict(num_workers=0))
"""
import os.path as osp
from typing import Dict

from mmengine.config import Config


def upstream(package: str, *path: str) -> Config:
    """A config shipped inside an installed OpenMMLab package (its ``.mim`` folder)."""
    module = __import__(package)
    return Config.fromfile(osp.join(osp.dirname(module.__file__), '.mim', 'configs', *path))


def cifar_resnet18(images: str, loader: Dict) -> Config:
    """mmpretrain's ``resnet/resnet18_8xb16_cifar10.py`` reading the PNGs of ``images``
    (:func:`~ausam_mm.benchmark.synthetic.write_class_images`) from a ``CustomDataset`` folder
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
