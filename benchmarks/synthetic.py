"""Generated inputs for the benchmarks and tests: a folder of class images in mmpretrain's
``CustomDataset`` layout, and the small conv net config that trains on it.

Usage::

    from benchmarks.synthetic import small_convnet_config, write_class_images
    write_class_images('/tmp/images', n=512, size=40)
    cfg = small_convnet_config('/tmp/images', batch_size=128)
"""
import os
import os.path as osp

import numpy as np
from mmengine.config import Config


def write_class_images(root: str, n: int = 512, size: int = 40, classes: int = 10) -> None:
    """``n`` PNG images in mmpretrain's CustomDataset folder layout (class_x/xxx.png)."""
    import cv2
    rng = np.random.default_rng(0)
    for i in range(n):
        label = i % classes
        folder = osp.join(root, f'class_{label}')
        os.makedirs(folder, exist_ok=True)
        img = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        img[..., label % 3] = np.clip(img[..., label % 3].astype(int) + 40 * label, 0, 255)
        cv2.imwrite(osp.join(folder, f'{i:05d}.png'), img)


#: what :func:`small_convnet_config` trains, as the speed benchmark's JSON names it
SMALL_CONVNET = 'builtin: ResNet_CIFAR-18 (16 base channels), 32x32 crops'


def small_convnet_config(data_root: str, batch_size: int) -> Config:
    """Small conv net (mmpretrain ``ResNet_CIFAR``, depth 18, 16 base channels) on the images
    of :func:`write_class_images`, with a real pipeline (decode, random resized crop, flip,
    pack); mmpretrain objects throughout."""
    return Config(dict(
        default_scope='mmpretrain',
        model=dict(
            type='ImageClassifier',
            backbone=dict(type='ResNet_CIFAR', depth=18, base_channels=16, stem_channels=16,
                          num_stages=4, out_indices=(3,)),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=10, in_channels=128,
                      loss=dict(type='CrossEntropyLoss', loss_weight=1.0)),
            data_preprocessor=dict(num_classes=10, mean=[125.3, 123.0, 113.9],
                                   std=[63.0, 62.1, 66.7], to_rgb=True)),
        train_dataloader=dict(
            batch_size=batch_size, num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=True),
            dataset=dict(type='CustomDataset', data_root=data_root, pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='RandomResizedCrop', scale=32),
                dict(type='RandomFlip', prob=0.5, direction='horizontal'),
                dict(type='PackInputs')])),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-3)),
        default_hooks=dict(logger=dict(type='LoggerHook', interval=10 ** 6)),
        env_cfg=dict(cudnn_benchmark=True),
        log_level='WARNING'))
