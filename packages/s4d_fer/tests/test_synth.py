"""The synthetic benchmark: deterministic, in the real layouts, readable by the real loaders."""

import hashlib

import torch

from s4d_fer.config import SynthConfig
from s4d_fer.data import build_dataset
from s4d_fer.labels import BASIC7
from s4d_fer.synth import write_synth
from s4d_fer.synth.faces import intensity_profile, render_clips, render_images

SMALL = SynthConfig(n_images=60, n_clips=35, frames=4, size=32, seed=3)


def _digest(folder):
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.name != "synth.json":
            h.update(str(p.relative_to(folder)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def test_same_seed_same_bytes(tmp_path):
    a = write_synth(tmp_path / "a", SMALL, log=lambda m: None)
    b = write_synth(tmp_path / "b", SMALL, log=lambda m: None)
    c = write_synth(
        tmp_path / "c", SynthConfig(**{**SMALL.__dict__, "seed": 4}), log=lambda m: None
    )
    assert _digest(a) == _digest(b) != _digest(c)


def test_layout_goes_through_real_loaders(micro_synth):
    dfew = build_dataset(
        "dfew", micro_synth / "DFEW", "train", fold=1, img_size=32, num_frames=4, sampling_rate=1
    )
    test = build_dataset(
        "dfew", micro_synth / "DFEW", "test", fold=1, img_size=32, num_frames=4, sampling_rate=1
    )
    assert len(dfew) + len(test) == 35 and len(test) == 7
    assert not {r.path for r in dfew.records} & {r.path for r in test.records}
    assert (micro_synth / "DFEW/EmoLabel_DataSplit/train(single-labeled)/set_5.csv").is_file()
    x, y = dfew[0]
    assert x.shape == (3, 4, 32, 32) and 0 <= y < 7
    aff = build_dataset("affectnet", micro_synth / "AffectNet", "train", img_size=32)
    aff_test = build_dataset("affectnet", micro_synth / "AffectNet", "test", img_size=32)
    assert len(aff) + len(aff_test) == 140 and aff[0][0].shape == (3, 32, 32)


def test_expressions_change_the_face_and_clips_move():
    g = torch.Generator().manual_seed(0)
    imgs = render_images(g, torch.arange(7), 32)
    assert imgs.shape == (7, 3, 32, 32) and 0 <= imgs.min() and imgs.max() <= 1
    # Same person and scene, different expressions -> different pixels around the mouth / brows.
    same = []
    for label in range(7):
        g = torch.Generator().manual_seed(1)
        same.append(render_images(g, torch.tensor([label]), 32))
    diffs = [(same[i] - same[0]).abs().mean().item() for i in range(1, 7)]
    assert min(diffs) > 1e-3
    prof = intensity_profile(torch.Generator().manual_seed(0), 50, 24)
    assert prof.shape == (50, 24) and prof[:, 0].max() < 0.5 and prof.max(1).values.min() > 0.3
    clips = render_clips(
        torch.Generator().manual_seed(0), torch.tensor([BASIC7.index("surprise")]), 6, 32
    )
    assert clips.shape == (1, 6, 3, 32, 32) and (clips[0, 0] - clips[0, -1]).abs().mean() > 1e-3
