# RTMO-s COCO 640x640 with SAM: only the optimizer wrapper changes (same AdamW, paramwise_cfg
# and clip_grad inside); everything else is rtmo-s_coco-640x640_adamw.py.
_base_ = ['./rtmo-s_coco-640x640_adamw.py']
custom_imports = dict(imports=['ausam_mm'], allow_failed_imports=False)
optim_wrapper = dict(type='SAMOptimWrapper', rho=0.05)
