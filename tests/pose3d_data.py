"""Tiny synthetic Human3.6M and InterHand2.6M datasets in the files MMPose's datasets read.

No 3D pose data ships with the tests (MMPose's own test samples are COCO / MPII images), so
these writers make a few frames of random, but geometrically consistent, poses in the original
layouts, for MMPose's unchanged ``Human36mDataset`` (``.npz`` annotation + ``cameras.pkl``) and
``InterHand3DDataset`` (COCO-style ``*_data.json`` + ``*_camera.json`` + ``*_joint_3d.json`` +
images): the 2D keypoints are the camera projections of the 3D ones.
"""
import json
import os
import os.path as osp
import pickle

import cv2
import numpy as np

H36M_CAMERA = '54138969'  # a real Human3.6M camera id: the image names parse as MMPose expects


def _project(points, focal, center):
    """Pinhole projection of camera-frame points (..., 3) to pixels (..., 2)."""
    return points[..., :2] / points[..., 2:3] * focal + center


def write_h36m(root, videos=2, frames=6, seed=0):
    """``<root>/annotation_body3d/fps50/h36m_train.npz`` and ``annotation_body3d/cameras.pkl``
    as MMPose's Human3.6M preprocessing writes them: ``videos`` clips (subjects S1, S5, ...)
    of ``frames`` frames, 17 joints; ``S`` in camera coordinates (metres) with a visibility
    column, ``part`` its projection with a visibility column."""
    rng = np.random.default_rng(seed)
    width, height = 1000, 1002
    focal = np.array([1145.0, 1144.0], dtype=np.float32)
    center = np.array([512.0, 515.0], dtype=np.float32)
    names, s3d = [], []
    for v in range(videos):
        subject = ('S1', 'S5', 'S6', 'S7', 'S8')[v % 5]
        skeleton = rng.uniform(-0.4, 0.4, (17, 3)) * [1, 2, 0.5]
        skeleton[0] = 0  # the root (pelvis) is joint 0
        start = np.array([rng.uniform(-0.5, 0.5), rng.uniform(-0.3, 0.3), 5.0])
        for f in range(frames):
            pelvis = start + [0.02 * f, 0, 0.01 * f]
            s3d.append(pelvis + skeleton + rng.normal(0, 0.01, (17, 3)))
            names.append(f'{subject}/{subject}_Walking.{H36M_CAMERA}/'
                         f'{subject}_Walking.{H36M_CAMERA}_{f + 1:06d}.jpg')
    s3d = np.asarray(s3d, dtype=np.float32)
    part = _project(s3d, focal, center)
    ones = np.ones((len(names), 17, 1), dtype=np.float32)
    bbox_min, bbox_max = part.min(1), part.max(1)
    annotation = osp.join(root, 'annotation_body3d', 'fps50')
    os.makedirs(annotation, exist_ok=True)
    np.savez(osp.join(annotation, 'h36m_train.npz'), imgname=np.array(names),
             center=(bbox_min + bbox_max) / 2, scale=(bbox_max - bbox_min).max(1) / 200,
             part=np.concatenate([part, ones], -1), S=np.concatenate([s3d, ones], -1))
    cameras = {(('S1', 'S5', 'S6', 'S7', 'S8')[v % 5], H36M_CAMERA): dict(
        R=np.eye(3, dtype=np.float32), T=np.zeros((3, 1), np.float32), f=focal[:, None],
        c=center[:, None], k=np.zeros((3, 1), np.float32), p=np.zeros((2, 1), np.float32),
        w=width, h=height, name=H36M_CAMERA) for v in range(videos)}
    with open(osp.join(root, 'annotation_body3d', 'cameras.pkl'), 'wb') as f:
        pickle.dump(cameras, f)
    return len(names)


def write_interhand(root, images=8, size=96, seed=0):
    """``<root>/annotations/all/InterHand2.6M_train_{data,camera,joint_3d}.json`` and
    ``<root>/images/train/*.jpg`` in InterHand2.6M's layout: one hand annotation (42 joints,
    right hand 0-20, left hand 21-41) per ``size`` x ``size`` image, world coordinates in
    millimetres, an identity camera at the origin."""
    rng = np.random.default_rng(seed)
    focal, principal = np.array([400.0, 400.0]), np.array([size / 2, size / 2])
    os.makedirs(osp.join(root, 'images', 'train'), exist_ok=True)
    cameras = {'0': dict(campos={'400000': [0.0, 0.0, 0.0]},
                         camrot={'400000': np.eye(3).tolist()},
                         focal={'400000': focal.tolist()},
                         princpt={'400000': principal.tolist()})}
    joints, image_list, annotations = {'0': {}}, [], []
    for i in range(images):
        world = rng.uniform(-30, 30, (42, 3)) + [0, 0, 500]
        world[21:] += [rng.uniform(-40, 40), 0, rng.uniform(-40, 40)]
        joints['0'][str(i)] = dict(world_coord=world.tolist())
        pixels = _project(world, focal, principal)
        valid = (rng.random(42) > 0.1).astype(float)
        valid[[20, 41]] = 1  # both roots: the relative root depth is supervised
        x0, y0 = pixels.min(0) - 4
        x1, y1 = pixels.max(0) + 4
        name = f'Capture0/ROM/cam400000/image{i:04d}.jpg'
        path = osp.join(root, 'images', 'train', name)
        os.makedirs(osp.dirname(path), exist_ok=True)
        cv2.imwrite(path, rng.integers(0, 255, (size, size, 3), dtype=np.uint8))
        image_list.append(dict(id=i, file_name=name, width=size, height=size, capture=0,
                               camera='400000', frame_idx=i, subject=0, seq_name='ROM'))
        annotations.append(dict(id=i, image_id=i, category_id=1, iscrowd=0,
                                bbox=[x0, y0, x1 - x0, y1 - y0],
                                joint_valid=valid.tolist(), hand_type_valid=1,
                                hand_type=('right', 'left', 'interacting')[i % 3]))
    annotation = osp.join(root, 'annotations', 'all')
    os.makedirs(annotation, exist_ok=True)
    for kind, content in (('data', dict(images=image_list, annotations=annotations,
                                        categories=[dict(id=1, name='hand')])),
                          ('camera', cameras), ('joint_3d', joints)):
        with open(osp.join(annotation, f'InterHand2.6M_train_{kind}.json'), 'w') as f:
            json.dump(content, f)
    return images
