# SimpleBaseline ResNet-50, heatmap head, COCO 256x192: MMPose's own config unchanged (Adam
# lr 5e-4, 210 epochs, data under data/coco/), the base-optimizer run of the trio.
_base_ = ['mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_res50_8xb64-210e_coco-256x192.py']
