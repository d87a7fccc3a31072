# SimCC ResNet-50 on MPII 256x256, the AUSAM paper's pose setting: MMPose's own config (SimCC
# without deconvolution - the SimCC-MPII config MMPose ships -, its augmentation, 210 epochs,
# 500-iteration warm-up, steps at 170/200, data under data/mpii/) with SGD as the base
# optimizer, as the paper compares SGD, SAM and AUSAM. The SGD lr/momentum/weight decay are
# ausam_mm's choice, not the paper's (not published) and not tuned; MMPose's own optimizer is
# Adam lr 5e-4 (run the mmpose:: config itself for that baseline).
_base_ = ['mmpose::body_2d_keypoint/simcc/mpii/simcc_res50_wo-deconv-8xb64-210e_mpii-256x256.py']
optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4))
