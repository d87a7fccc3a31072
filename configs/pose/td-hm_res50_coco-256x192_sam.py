# SimpleBaseline ResNet-50 heatmap COCO 256x192 with SAM: only the optimizer wrapper changes
# (same Adam inside); everything else is td-hm_res50_coco-256x192_adam.py.
_base_ = ['./td-hm_res50_coco-256x192_adam.py']
custom_imports = dict(imports=['ausam_mm'], allow_failed_imports=False)
optim_wrapper = dict(type='SAMOptimWrapper', rho=0.05)
