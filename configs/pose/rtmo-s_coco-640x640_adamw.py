# RTMO-s COCO 640x640 (one-stage: a sample is an image with all its people): MMPose's own
# config unchanged (AdamW lr 4e-3, 600 epochs, Mosaic/MixUp stage 1, mode switches, EMA, data
# under data/coco/), the base-optimizer run.
_base_ = ['mmpose::body_2d_keypoint/rtmo/coco/rtmo-s_8xb32-600e_coco-640x640.py']
