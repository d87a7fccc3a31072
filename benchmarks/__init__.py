"""The project's studies, benchmarks, plots and demo: the lab, not the product. Not installed
with ``ausam_mm`` (``pip wheel .`` carries ``ausam_mm/`` only); run from a checkout, at the
repository root, as ``python -m benchmarks.<module>`` (each module's docstring has its command
line). ``results/`` beside this folder holds what they measured.

- :mod:`.variants`: the table of training variants (base optimizer, SAM, AUSAM at some ratio,
  random-subset SAM, ...) with their conversions, labels and plot colours;
- :mod:`.throughput`: :class:`~.throughput.ThroughputHook` and :func:`~.throughput.measure`,
  the speed and sample-forwards of one training run;
- :mod:`.synthetic`: generated inputs (a folder of class images) and the small conv net
  config that trains on them;
- :mod:`.speed`: the interleaved speed benchmark (``python -m benchmarks.speed``);
- :mod:`.label_noise`: the label-noise accuracy study (``python -m benchmarks.label_noise``);
- :mod:`.pose_study`: the held-out pose study on LSPET (``python -m benchmarks.pose_study``);
- :mod:`.plots`: the figures (``python -m benchmarks.plots``);
- :mod:`.paper_configs`: the paper's models as upstream configs on local synthetic data;
- :mod:`.pose_coverage`: how many MMPose configs ``--ausam`` converts;
- :mod:`.demo`: what ``make demo`` runs (``python -m benchmarks.demo``).

Importing this package silences the dependencies' known-harmless warnings
(``tools/known_warnings.py``, the list the user tools and the test suite use): its modules are
command lines. It imports only the variant table; the other modules need mmpretrain,
scikit-learn or matplotlib::

    from benchmarks import apply_variant
    apply_variant(cfg, 'ausam_0.5', rho=0.1)
"""
from tools.known_warnings import silence

silence()  # before the imports below: some dependencies warn while they load

from .variants import (CONVERSIONS, VARIANTS, Conversion, Variant,  # noqa: E402
                       apply_variant, ideal_passes, train_args, uses_sampler, variant_options)

__all__ = [
    'CONVERSIONS', 'VARIANTS', 'Conversion', 'Variant', 'apply_variant', 'ideal_passes',
    'train_args', 'uses_sampler', 'variant_options'
]
