"""Each loader on a small fixture in its real layout, temporal sampling, and bad inputs."""

import numpy as np
import pytest
import torch
from PIL import Image

from labcore.errors import DataError
from s4d_fer.data import build_dataset, stratified_split, stratified_subset
from s4d_fer.data.transforms import sample_indices

OPTS = dict(img_size=16, num_frames=4, sampling_rate=2)


def _img(path, value=128, size=20):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size, size, 3), value, np.uint8)).save(path)


def _frames(folder, n=5):
    for i in range(n):
        _img(folder / f"{i + 1:05d}.jpg", 20 * i)


def _video(path, n=6, size=32):
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(
                np.full((size, size, 3), 30 * i, np.uint8), format="rgb24"
            )
            out.mux(stream.encode(frame))
        out.mux(stream.encode())


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


# ---------------------------------------------------------------- video layouts


def test_dfew_official_one_based(tmp_path):
    for v in ("00001", "00002"):
        _frames(tmp_path / "Clip" / "jpg_256" / v)
    _write(
        tmp_path / "EmoLabel_DataSplit/train(single-labeled)/set_2.csv",
        "video_name,label\n1,1\n2,7\n",
    )
    ds = build_dataset("dfew", tmp_path, "train", fold=2, **OPTS)
    assert ds.classes[0] == "happy" and ds.labels == [0, 6]  # 1-based -> 0-based
    x, y = ds[0]
    assert x.shape == (3, 4, 16, 16) and y == 0


def test_dfew_s4d_zero_based_and_test_views(tmp_path):
    _frames(tmp_path / "clip_jpg_256" / "00003", n=3)  # shorter than 4 frames x stride 2
    _write(
        tmp_path / "EmoLabel_DataSplit/test(single-labeled)/test_set_1.csv",
        "video_name,label\n00003,6\n",
    )
    ds = build_dataset("dfew", tmp_path, "test", fold=1, test_clips=2, **OPTS)
    assert ds.labels == [6] and ds.classes[6] == "fear"
    x, _ = ds[0]
    assert x.shape == (2, 3, 4, 16, 16)


def test_ferv39k_both_layouts(tmp_path):
    _frames(tmp_path / "2_ClipsforFaceCrop" / "Crime" / "Angry" / "0063")
    _write(tmp_path / "Annotation" / "train.csv", "path,id\nCrime/Angry/0063,0\n")
    assert build_dataset("ferv39k", tmp_path, "train", **OPTS).labels == [0]
    (tmp_path / "Annotation" / "train.csv").unlink()
    _write(tmp_path / "4_setups/All_scenes/train_All.csv", "Crime/Angry/0063 Angry\n")
    ds = build_dataset("ferv39k", tmp_path, "train", **OPTS)
    assert ds.labels == [0] and ds.classes[0] == "angry"


def test_mafw_both_layouts(tmp_path):
    _frames(tmp_path / "frames_crop_align_224" / "03747")
    _write(tmp_path / "anno/single/no_caption/set_3/test.csv", "video_name,labels\n03747,1\n")
    ds = build_dataset("mafw", tmp_path, "test", fold=3, **OPTS)
    assert len(ds.classes) == 11 and ds.labels == [1] and ds.classes[1] == "anxiety"
    _write(tmp_path / "split/single/no_caption/set_4/train.txt", "03747.mp4 helplessness\n")
    assert build_dataset("mafw", tmp_path, "train", fold=4, **OPTS).labels == [7]


def test_generic_videos_files_and_folders(tmp_path):
    _video(tmp_path / "train" / "happy" / "a.mp4")
    _frames(tmp_path / "train" / "sad" / "clip1")
    _frames(tmp_path / "test" / "sad" / "clip2")
    ds = build_dataset("generic", tmp_path, "train", **OPTS)
    assert ds.classes == ("happy", "sad") and sorted(ds.labels) == [0, 1]
    assert all(ds[i][0].shape == (3, 4, 16, 16) for i in range(2))
    assert build_dataset("generic", tmp_path, "test", **OPTS).labels == [1]


# ---------------------------------------------------------------- image layouts


def test_affectnet_s4d_list_and_official_csv(tmp_path):
    _img(tmp_path / "Manually_Annotated_Images" / "680" / "a.bmp")
    _img(tmp_path / "Manually_Annotated_Images" / "681" / "b.jpg")
    _write(tmp_path / "train_affectnet7_2w.txt", "680/a.bmp 0\n681/b.jpg 6\n")
    ds = build_dataset("affectnet", tmp_path, "train", **OPTS)
    assert ds.labels == [0, 6] and ds.classes[6] == "angry" and ds[0][0].shape == (3, 16, 16)
    header = "subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal\n"
    _write(
        tmp_path / "validation.csv", header + "680/a.bmp,0,0,1,1,,7,0,0\n681/b.jpg,0,0,1,1,,3,0,0\n"
    )
    assert build_dataset("affectnet", tmp_path, "test", classes=7, **OPTS).labels == [
        3
    ]  # contempt left out
    assert build_dataset("affectnet", tmp_path, "test", classes=8, **OPTS).labels == [7, 3]


def test_rafdb(tmp_path):
    _img(tmp_path / "Image/aligned/train_00001_aligned.jpg")
    _img(tmp_path / "Image/aligned/test_0001_aligned.jpg")
    _write(tmp_path / "EmoLabel/list_patition_label.txt", "train_00001.jpg 4\ntest_0001.jpg 7\n")
    assert build_dataset("rafdb", tmp_path, "train", **OPTS).labels == [3]  # 4 = happiness
    ds = build_dataset("rafdb", tmp_path, "test", **OPTS)
    assert ds.labels == [6] and ds.classes[6] == "neutral"


def test_ferplus_majority_vote(tmp_path):
    _img(tmp_path / "FER2013Train" / "fer0000000.png")
    _img(tmp_path / "FER2013Train" / "fer0000001.png")
    cols = "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF\n"
    rows = "Training,fer0000000.png,1,8,1,0,0,0,0,0,0,0\nTraining,fer0000001.png,0,0,0,0,0,0,0,0,2,8\nPublicTest,,10,0,0,0,0,0,0,0,0,0\n"
    _write(tmp_path / "fer2013new.csv", cols + rows)
    ds = build_dataset("ferplus", tmp_path, "train", **OPTS)
    assert ds.labels == [1] and ds.classes[1] == "happy"  # not-a-face row left out


# ---------------------------------------------------------------- sampling and splits


def test_sample_indices_pad_and_spread():
    assert sample_indices(3, 4, 2).tolist() == [0, 2, 2, 2]  # padded with the last frame
    assert sample_indices(20, 4, 2, None, 0, 2).tolist() == [0, 2, 4, 6]
    assert sample_indices(20, 4, 2, None, 1, 2).tolist() == [13, 15, 17, 19]
    rng = np.random.default_rng(0)
    for _ in range(20):
        idx = sample_indices(30, 4, 3, rng)
        assert idx.max() < 30 and np.all(np.diff(idx) == 3)


def test_stratified_split():
    labels = [0] * 20 + [1] * 10 + [2] * 2
    fit, val = stratified_split(labels, 0.2, seed=0)
    assert sorted(fit + val) == list(range(32)) and not set(fit) & set(val)
    assert [labels[i] for i in val].count(0) == 4 and [labels[i] for i in val].count(2) == 1
    assert stratified_split(labels, 0.2, seed=0) == (fit, val)


def test_stratified_subset_is_nested_and_keeps_every_class():
    labels = [0] * 20 + [1] * 10 + [2] * 2
    quarter, half = stratified_subset(labels, 0.25), stratified_subset(labels, 0.5)
    assert set(quarter) < set(half)
    assert [labels[i] for i in quarter].count(0) == 5 and {labels[i] for i in quarter} == {0, 1, 2}
    assert stratified_subset(labels, 1.0) == list(range(32))


def test_clip_fraction_shrinks_only_the_fit_clips(micro_cfg):
    from s4d_fer.train.inputs import load_data

    full = load_data(micro_cfg, need_images=False)
    cfg = micro_cfg.replace(**{"data.clip_fraction": 0.5}).validate()
    half = load_data(cfg, need_images=False)
    assert len(half.video_fit) < len(full.video_fit)
    assert set(half.video_fit.labels) == set(full.video_fit.labels)
    assert len(half.video_val) == len(full.video_val) and len(half.video_all) == len(full.video_all)


def test_clip_fraction_out_of_range_names_the_option(micro_cfg):
    with pytest.raises(DataError, match=r"data\.clip_fraction"):
        micro_cfg.replace(**{"data.clip_fraction": 0.0}).validate()


# ---------------------------------------------------------------- bad inputs


def _dfew(tmp_path, csv_text, frames=("00001",)):
    for v in frames:
        _frames(tmp_path / "Clip" / "jpg_256" / v)
    _write(tmp_path / "EmoLabel_DataSplit/train(single-labeled)/set_1.csv", csv_text)


def test_missing_frame_folder_names_file_and_row(tmp_path):
    _dfew(tmp_path, "video_name,label\n00001,1\n00009,2\n")
    with pytest.raises(DataError, match=r"set_1.csv:3: frame folder not found"):
        build_dataset("dfew", tmp_path, "train", fold=1, **OPTS)
    ds = build_dataset("dfew", tmp_path, "train", fold=1, skip_bad=True, **OPTS)
    assert len(ds) == 1 and ds.skipped == 1


def test_label_outside_map_and_missing_column(tmp_path):
    _dfew(tmp_path, "video_name,label\n00001,9\n")
    with pytest.raises(DataError, match=r"set_1.csv:2: label 8 is outside 0..6"):
        build_dataset("dfew", tmp_path, "train", fold=1, **OPTS)
    _write(
        tmp_path / "EmoLabel_DataSplit/train(single-labeled)/set_1.csv", "video,label\n00001,1\n"
    )
    with pytest.raises(DataError, match=r"set_1.csv: line 1: missing column\(s\) video_name"):
        build_dataset("dfew", tmp_path, "train", fold=1, **OPTS)


def test_empty_clip_and_unreadable_image(tmp_path):
    _dfew(tmp_path, "video_name,label\n00001,1\n00002,2\n00003,3\n")
    (tmp_path / "Clip/jpg_256/00002").mkdir(parents=True)  # a clip with no frames
    _frames(tmp_path / "Clip/jpg_256/00003")
    (tmp_path / "Clip/jpg_256/00003/00001.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match=r"set_1.csv:3: clip has no frames"):
        build_dataset("dfew", tmp_path, "train", fold=1, **OPTS)
    ds = build_dataset("dfew", tmp_path, "train", fold=1, skip_bad=True, **OPTS)
    assert len(ds) == 2 and ds.skipped == 1
    strict = build_dataset("dfew", tmp_path, "train", fold=1, skip_bad=True, train=False, **OPTS)
    strict.options.skip_bad = False
    with pytest.raises(DataError, match=r"set_1.csv:4: .*00001.jpg: unreadable image"):
        strict[1]
    x, _y = ds[1]  # skip_bad: the unreadable clip is replaced by the next sample
    assert isinstance(x, torch.Tensor) and ds.load_failures >= 1


def test_unknown_dataset_and_missing_root(tmp_path):
    with pytest.raises(DataError, match="unknown dataset"):
        build_dataset("kinetics", tmp_path, "train")
    with pytest.raises(DataError, match=r"dataset root .* not found"):
        build_dataset("dfew", tmp_path / "nope", "train", fold=1)
