# SimCC ResNet-50 on MPII 256x256 (MMPose's own config), QAT: backbone W4A4 (its stem W8A8),
# head kept in float. MMPose's Adam schedule; SAM/AUSAM without a new file:
#   python tools/train.py configs/qat/simcc_res50_w4a4_mpii-256x256.py --sam rho=0.05
#   python tools/train.py configs/qat/simcc_res50_w4a4_mpii-256x256.py --ausam ratio=0.5
_base_ = ['mmpose::body_2d_keypoint/simcc/mpii/simcc_res50_wo-deconv-8xb64-210e_mpii-256x256.py']
custom_imports = dict(imports=['ausam_mm'], allow_failed_imports=False)
model = dict(_delete_=True, type='BrevitasQATModel', model={{_base_.model}},
             weight_bit_width=4, act_bit_width=4, first_last_bit_width=8, quantizer='lsq',
             skip=['head'])
# the quantizers' learned scales are trained, not perturbed by SAM/AUSAM
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={'.scaling_impl.value': dict(sam_perturb=False)}))
