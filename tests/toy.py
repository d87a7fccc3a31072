"""Small real MMEngine objects for the tests: a conv net with BatchNorm and an image dataset.

The model is a real ``mmengine.model.BaseModel`` (its own ``train_step``, data preprocessor and
``parse_losses``); the dataset returns ``dict(inputs, data_samples)`` like OpenMMLab packers.
"""
import os

import torch
import torch.nn.functional as F
from mmengine.hooks import Hook
from mmengine.model import BaseModel, is_model_wrapper
from mmengine.registry import DATASETS, HOOKS, MODELS
from mmengine.structures import BaseDataElement
from torch import nn
from torch.utils.data import Dataset


@MODELS.register_module(force=True)
class ToyConvNet(BaseModel):
    """conv-BN-ReLU-conv-BN-ReLU-pool-linear; per-sample cross-entropy in ``loss`` mode."""

    def __init__(self, num_classes: int = 4, width: int = 8, per_sample: bool = True,
                 momentum=0.1, data_preprocessor=dict(type='ImgDataPreprocessor')) -> None:
        super().__init__(data_preprocessor=data_preprocessor)
        self.per_sample = per_sample
        self.features = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1), nn.BatchNorm2d(width, momentum=momentum),
            nn.ReLU(), nn.Conv2d(width, width, 3, padding=1),
            nn.BatchNorm2d(width, momentum=momentum), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
            nn.Flatten())
        self.head = nn.Linear(width, num_classes)

    def logits(self, inputs):
        return self.head(self.features(inputs))

    def forward(self, inputs, data_samples=None, mode='tensor'):
        logits = self.logits(inputs)
        if mode == 'loss':
            labels = torch.stack([s.label for s in data_samples]).to(logits.device)
            loss = F.cross_entropy(logits.float(), labels, reduction='none')
            return {'loss': loss if self.per_sample else loss.mean()}
        if mode == 'predict':
            preds = logits.argmax(1)
            for s, p in zip(data_samples, preds):
                s.pred = p
            return data_samples
        return logits


@DATASETS.register_module(force=True)
class ToyImageDataset(Dataset):
    """``n`` random 3x``size``x``size`` images whose label is a function of the image."""

    def __init__(self, n: int = 32, size: int = 8, num_classes: int = 4, seed: int = 0,
                 noise: float = 0.5) -> None:
        g = torch.Generator().manual_seed(seed)
        self.labels = torch.randint(num_classes, (n,), generator=g)
        centers = torch.randn(num_classes, 3, 1, 1, generator=g)
        self.images = centers[self.labels] + noise * torch.randn(n, 3, size, size, generator=g)
        self.metainfo = dict(classes=tuple(str(c) for c in range(num_classes)))

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, idx):
        return dict(inputs=self.images[idx].clone(),
                    data_samples=BaseDataElement(label=self.labels[idx].clone()))


def rank_state(runner) -> dict:
    """This rank's parameters, AUSAM score history (None without) and world size, as the
    distributed tests compare the ranks."""
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    history = getattr(runner.optim_wrapper, 'history', None)
    return dict(params={k: v.detach().clone() for k, v in model.named_parameters()},
                history=history.state_dict() if history is not None else None,
                world_size=runner.world_size)


@HOOKS.register_module(force=True)
class SaveRankStateHook(Hook):
    """After the run, :func:`rank_state` to ``work_dir/rank{R}.pt``."""

    def after_run(self, runner) -> None:
        torch.save(rank_state(runner), os.path.join(runner.work_dir, f'rank{runner.rank}.pt'))


def toy_batch(n: int = 8, size: int = 8, seed: int = 0):
    ds = ToyImageDataset(n=n, size=size, seed=seed)
    items = [ds[i] for i in range(n)]
    return dict(inputs=torch.stack([it['inputs'] for it in items]),
                data_samples=[it['data_samples'] for it in items])
