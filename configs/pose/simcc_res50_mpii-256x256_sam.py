# SimCC ResNet-50 on MPII 256x256 with SAM: only the optimizer wrapper changes (same SGD
# inside, same schedule); everything else is simcc_res50_mpii-256x256_sgd.py.
_base_ = ['./simcc_res50_mpii-256x256_sgd.py']
custom_imports = dict(imports=['ausam_mm'], allow_failed_imports=False)
optim_wrapper = dict(type='SAMOptimWrapper', rho=0.05)
