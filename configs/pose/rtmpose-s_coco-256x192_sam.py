# RTMPose-s COCO 256x192 with SAM: only the optimizer wrapper changes (same AdamW and
# paramwise_cfg inside); everything else is rtmpose-s_coco-256x192_adamw.py.
_base_ = ['./rtmpose-s_coco-256x192_adamw.py']
custom_imports = dict(imports=['ausam_mm'], allow_failed_imports=False)
optim_wrapper = dict(type='SAMOptimWrapper', rho=0.05)
