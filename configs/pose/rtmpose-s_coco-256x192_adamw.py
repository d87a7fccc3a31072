# RTMPose-s COCO 256x192: MMPose's own config unchanged (AdamW lr 4e-3, 420 epochs, EMA,
# pipeline switch for the last 30 epochs, data under data/coco/), the base-optimizer run.
_base_ = ['mmpose::body_2d_keypoint/rtmpose/coco/rtmpose-s_8xb256-420e_coco-256x192.py']
