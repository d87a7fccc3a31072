# MMPose's SimpleBaseline ResNet-50 (td-hm_res50, MPII 256x256) trained on LSPET: only the
# dataset lines, the head's 14 joints and the evaluator change, as for any MMPose top-down
# config. LSPET (Johnson and Everingham, CVPR 2011: cite it with results) in MMPose's layout:
# data/lspet/joints.mat and data/lspet/images/im00001.jpg ... Its first 3,000 images present
# train, the next 1,000 validate. AUSAM: add --ausam to the command. From the repository root:
#   python tools/train.py configs/lsp/td-hm_res50_lspet-256x256.py [--ausam ratio=0.5]
_base_ = ['mmpose::body_2d_keypoint/topdown_heatmap/mpii/td-hm_res50_8xb64-210e_mpii-256x256.py']
custom_imports = dict(imports=['ausam_mm'], allow_failed_imports=False)

model = dict(head=dict(out_channels=14))
lsp = dict(_delete_=True, type='LSPDataset', data_root='data/lspet/', data_mode='topdown')
train_dataloader = dict(dataset=dict(lsp, indices=3000, pipeline=_base_.train_pipeline))
val_dataloader = dict(dataset=dict(lsp, indices=list(range(3000, 4000)), test_mode=True,
                                   pipeline=_base_.val_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type='TorsoPCKAccuracy', thr=(0.2, 0.1))
test_evaluator = val_evaluator
default_hooks = dict(checkpoint=dict(save_best='pck/PCK@0.2', rule='greater'))
