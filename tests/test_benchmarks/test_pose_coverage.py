"""``benchmarks/pose_coverage.py`` on one upstream MMPose config of every family.

The tool loads each config MMPose installs and applies ``to_ausam``; here a subset with one
config per head family (the full run, all 405 trainable configs, is the tool's own job: see
docs/pose.md). Every family converts except the heads in ``UNSPLIT_HEADS``, whose refusals
name their real loss keys and are explained in docs/pose.md.
"""
import os.path as osp

from ausam_mm.pose import UNSPLIT_HEADS
from benchmarks import pose_coverage as tool
from conftest import ROOT

DOCS = osp.join(ROOT, 'docs', 'pose.md')

CONVERTED = [
    'body_2d_keypoint/rtmo/coco/rtmo-s_8xb32-600e_coco-640x640.py',
    'body_2d_keypoint/yoloxpose/coco/yoloxpose_s_8xb32-300e_coco-640.py',
    'body_2d_keypoint/dekr/coco/dekr_hrnet-w32_8xb10-140e_coco-512x512.py',
    'body_2d_keypoint/topdown_heatmap/coco/td-hm_3xmspn50_8xb32-210e_coco-256x192.py',
    'body_2d_keypoint/topdown_heatmap/coco/td-hm_hrnet-w32_udp-regress-8xb64-210e_coco-256x192.py',
    'body_2d_keypoint/topdown_heatmap/coco/td-hm-vis_res50_8xb64-210e_coco-aic-256x192-merge.py',
    'body_2d_keypoint/rtmpose/coco/rtmpose-s_8xb256-420e_coco-256x192.py',
    'wholebody_2d_keypoint/rtmpose/cocktail14/rtmw-l_8xb1024-270e_cocktail14-256x192.py',
    'wholebody_2d_keypoint/dwpose/coco-wholebody/s1_dis/dwpose_l_dis_m_coco-256x192.py',
    'face_2d_keypoint/topdown_heatmap/wflw/td-hm_hrnetv2-w18_awing-8xb64-60e_wflw-256x256.py',
    'face_2d_keypoint/topdown_regression/wflw/td-reg_res50_wingloss_8xb64-210e_wflw-256x256.py',
    'face_2d_keypoint/topdown_regression/wflw/'
    'td-reg_res50_softwingloss_8xb64-210e_wflw-256x256.py',
    'body_3d_keypoint/image_pose_lift/h36m/image-pose-lift_tcn_8xb64-200e_h36m.py',
    'body_3d_keypoint/motionbert/h36m/motionbert_dstformer-243frm_8xb32-240e_h36m-original.py',
    'hand_3d_keypoint/internet/interhand3d/internet_res50_4xb16-20e_interhand3d-256x256.py',
]
REFUSED = {
    'body_2d_keypoint/cid/coco/cid_hrnet-w32_8xb20-140e_coco-512x512.py': 'CIDHead',
    'body_2d_keypoint/associative_embedding/coco/ae_hrnet-w32_8xb24-300e_coco-512x512.py':
        'AssociativeEmbeddingHead',
}


def test_every_family_converts_and_the_refusals_name_their_loss_keys(capsys):
    configs = {osp.relpath(p, osp.commonpath(tool.mmpose_configs())): p
               for p in tool.mmpose_configs()}
    outcomes = tool.survey([configs[name] for name in CONVERTED + list(REFUSED)])
    converted = {p for paths in outcomes['converted'].values() for p in paths}
    assert converted == {configs[name] for name in CONVERTED}
    refused = {p: detail for detail, paths in outcomes['refused'].items() for p in paths}
    assert set(refused) == {configs[name] for name in REFUSED}
    for name, head in REFUSED.items():
        assert f"head.type='{head}' cannot be split per sample" in refused[configs[name]]
    assert 'Its losses: model.head.keypoint_loss, model.head.tag_loss.' in refused[
        configs[list(REFUSED)[1]]]
    ratio = tool.report(outcomes)
    assert ratio == len(CONVERTED) / (len(CONVERTED) + len(REFUSED))
    printed = capsys.readouterr().out
    assert f'converted: {len(CONVERTED)}; refused: {len(REFUSED)}' in printed


def test_every_head_that_stays_refused_is_explained_in_the_docs():
    with open(DOCS) as f:
        refused_section = f.read().split('### Refused', 1)[1].split('\n## ', 1)[0]
    assert set(REFUSED.values()) == set(UNSPLIT_HEADS)
    for head in UNSPLIT_HEADS:
        assert f'`{head}`' in refused_section, head
