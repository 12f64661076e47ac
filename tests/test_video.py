"""Videos and cameras: a generator of per-frame results, an annotated copy, clear errors."""
import gc

import numpy as np
import pytest
from PIL import Image

cv2 = pytest.importorskip("cv2")

from easycls import Classifier, ImageError, PathNotFoundError  # noqa: E402
from easycls.inference import Predictor  # noqa: E402

# What the clip shows, segment by segment, and the colours in OpenCV's BGR order.
SEGMENTS = ("red", "green", "blue")
BGR = {"red": (30, 30, 220), "green": (30, 200, 30), "blue": (220, 30, 30)}
PER_SEGMENT, FPS, SIZE = 8, 10, 64


@pytest.fixture(scope="module")
def colour_model(tmp_path_factory):
    """A LeNet that tells red, green and blue pictures apart (trained in about two seconds)."""
    root = tmp_path_factory.mktemp("colours") / "colours"
    rng = np.random.default_rng(0)
    for split, count in (("training_set", 16), ("val_set", 4)):
        for name, bgr in BGR.items():
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                noise = rng.integers(-40, 40, (16, 16, 3))
                picture = np.clip(np.array(bgr[::-1]) + noise, 0, 255).astype(np.uint8)
                Image.fromarray(picture).save(folder / f"{i}.png")
    model = Classifier("LeNet", device="cpu")
    model.load_dataset(root, check=None)
    model.train(epochs=3, save_fold=tmp_path_factory.mktemp("colour_run"), verbose=False)
    return model


def write_clip(path, colours, per_segment=PER_SEGMENT, fps=FPS, size=SIZE):
    """An .mp4 of `per_segment` frames of each BGR colour, as a phone or camera would save it."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (size, size))
    assert writer.isOpened()
    for colour in colours:
        for _ in range(per_segment):
            writer.write(np.full((size, size, 3), colour, np.uint8))
    writer.release()
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """Red, then green, then blue: 8 frames each at 10 fps, 64x64."""
    return write_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", [BGR[n] for n in SEGMENTS])


def truth(frame: int) -> str:
    return SEGMENTS[frame // PER_SEGMENT]


def near_a_boundary(frame: int) -> bool:
    """Within a frame of where the clip changes colour: the codec may blur these."""
    return any(abs(frame - start) <= 1 for start in range(PER_SEGMENT, len(SEGMENTS) * PER_SEGMENT, PER_SEGMENT))


REAL_CAPTURE = cv2.VideoCapture


class CountingCapture:
    """A real capture that counts how many were opened and released (a wrapper: OpenCV's
    class is not safe to subclass in Python)."""

    opened, released = 0, 0

    def __init__(self, *args):
        self.capture = REAL_CAPTURE(*args)
        CountingCapture.opened += 1

    def __getattr__(self, name):
        return getattr(self.capture, name)

    def release(self):
        if self.capture.isOpened():
            CountingCapture.released += 1
        return self.capture.release()


@pytest.fixture
def counted(monkeypatch):
    CountingCapture.opened = CountingCapture.released = 0
    monkeypatch.setattr(cv2, "VideoCapture", CountingCapture)
    return CountingCapture


@pytest.fixture
def camera(monkeypatch, clip):
    """Camera 0 of this computer shows the clip (no real camera is needed)."""
    def open_camera(source, *args):
        return CountingCapture(str(clip) if isinstance(source, int) and source == 0 else source, *args)

    CountingCapture.opened = CountingCapture.released = 0
    monkeypatch.setattr(cv2, "VideoCapture", open_camera)
    return CountingCapture


def test_a_video_gives_a_generator_of_results_that_change_where_the_clip_changes(colour_model, clip):
    results = colour_model.fast_inference(str(clip))
    assert not isinstance(results, (list, dict)) and iter(results) is results
    results = list(results)
    assert len(results) == len(SEGMENTS) * PER_SEGMENT
    assert set(results[0]) == {"image", "pred_label", "pred_score", "pred_class", "topk", "frame", "time"}
    assert results[0]["image"] == str(clip)
    wrong = [r["frame"] for r in results if r["pred_class"] != truth(r["frame"])]
    assert all(near_a_boundary(frame) for frame in wrong), wrong
    assert [r["pred_class"] for r in results[2:6]] == ["red"] * 4
    assert [r["pred_class"] for r in results[-6:-2]] == ["blue"] * 4


def test_frame_numbers_and_times_increase_at_the_clip_frame_rate(colour_model, clip):
    results = list(colour_model.fast_inference(clip))
    assert [r["frame"] for r in results] == list(range(len(SEGMENTS) * PER_SEGMENT))
    assert [r["time"] for r in results] == pytest.approx([i / FPS for i in range(len(results))], abs=1e-3)


def test_opencv_bgr_frames_are_read_as_rgb_so_a_red_clip_is_red(colour_model, tmp_path, monkeypatch):
    pictures, prepare = [], Predictor.prepare
    monkeypatch.setattr(Predictor, "prepare", lambda self, item: pictures.append(item.image) or prepare(self, item))
    red = write_clip(tmp_path / "red.mp4", [(0, 0, 255)], per_segment=3)  # BGR: pure red
    results = list(colour_model.fast_inference(red))
    assert [r["pred_class"] for r in results] == ["red"] * 3
    r, g, b = np.asarray(pictures[0].convert("RGB"))[32, 32].astype(int)
    assert r > 240 and g < 15 and b < 15


def test_show_writes_an_annotated_video_of_the_same_frames_size_and_fps(colour_model, clip, tmp_path, capsys):
    out = tmp_path / "out"
    results = list(colour_model.inference(str(clip), save_fold=out))
    written = out / "clip.mp4"
    assert f"Saved the annotated video ({len(results)} frames, 64x64, 10 fps) as '{written}'" in capsys.readouterr().out
    video = cv2.VideoCapture(str(written))
    fps, frames = video.get(cv2.CAP_PROP_FPS), []
    while True:
        ok, frame = video.read()
        if not ok:
            break
        frames.append(frame.astype(int))
    video.release()
    assert len(frames) == len(results) and frames[0].shape == (SIZE, SIZE, 3) and fps == pytest.approx(FPS)
    for frame, colour in ((frames[0], "red"), (frames[-1], "blue")):
        band, below = frame[0:3, 0:30].reshape(-1, 3).mean(0), frame[48:].reshape(-1, 3).mean(0)
        assert np.abs(below - BGR[colour]).max() < 20  # the frame as it was ...
        assert band.max() < 0.5 * max(BGR[colour])  # ... under the label's dark band at the top left
        assert frame[:20].max() > 240  # and the label's white letters


def test_breaking_out_of_the_loop_releases_the_video_and_finishes_the_annotated_one(
        colour_model, clip, tmp_path, counted, capsys):
    out = tmp_path / "out"
    for result in colour_model.inference(clip, save_fold=out):
        if result["frame"] == 4:
            break
    gc.collect()
    assert counted.opened == 1 and counted.released == 1
    said = capsys.readouterr().out
    assert "(5 frames, 64x64, 10 fps)" in said and "the loop stopped before the end of the video" in said
    check = cv2.VideoCapture(str(out / "clip.mp4"))
    assert check.get(cv2.CAP_PROP_FRAME_COUNT) == 5
    check.release()
    again = list(colour_model.fast_inference(clip))  # the file opens again as if never used
    assert len(again) == len(SEGMENTS) * PER_SEGMENT


def test_closing_the_generator_or_never_starting_it_releases_the_video(colour_model, clip, counted):
    results = colour_model.fast_inference(clip)
    next(results)
    results.close()
    assert counted.released == 1
    colour_model.fast_inference(clip)  # dropped at once: released when garbage-collected
    gc.collect()
    assert counted.opened == 2 and counted.released == 2


def test_an_opencv_capture_works_and_stays_open_for_its_owner(colour_model, clip):
    capture = cv2.VideoCapture(str(clip))
    results = list(colour_model.fast_inference(capture))
    assert [r["frame"] for r in results] == list(range(len(SEGMENTS) * PER_SEGMENT))
    assert results[3]["pred_class"] == "red" and results[-3]["pred_class"] == "blue"
    assert results[0]["image"] is None
    assert capture.isOpened()  # the capture is the caller's to release
    capture.release()


def test_every_classifies_every_nth_frame_and_the_video_keeps_them_all(colour_model, clip, tmp_path):
    results = list(colour_model.inference(clip, every=3, save_fold=tmp_path))
    assert [r["frame"] for r in results] == list(range(0, len(SEGMENTS) * PER_SEGMENT, 3))
    assert results[1]["time"] == pytest.approx(0.3)
    written = cv2.VideoCapture(str(tmp_path / "clip.mp4"))
    assert written.get(cv2.CAP_PROP_FRAME_COUNT) == len(SEGMENTS) * PER_SEGMENT
    written.release()


def test_max_frames_stops_after_that_many_results_and_the_last_is_remembered(colour_model, clip, counted):
    results = list(colour_model.fast_inference(clip, max_frames=4, every=2))
    assert [r["frame"] for r in results] == [0, 2, 4, 6]
    assert colour_model.last_results["frame"] == 6
    assert counted.released == 1


def test_a_camera_number_gives_live_results_and_writes_camera_0(colour_model, camera, tmp_path, capsys):
    results = list(colour_model.inference(0, save_fold=tmp_path))
    assert [r["frame"] for r in results] == list(range(len(SEGMENTS) * PER_SEGMENT))
    assert results[0]["image"] is None and results[0]["time"] == 0
    times = [r["time"] for r in results]
    assert times == sorted(times)  # seconds since the first frame, by the clock
    assert (tmp_path / "camera_0.mp4").is_file()
    assert "Camera 0 stopped sending frames after 24 frame(s)" in capsys.readouterr().out
    assert camera.released == 1


def test_opening_a_camera_again_closes_the_loop_that_still_holds_it(colour_model, camera, capsys):
    first = colour_model.fast_inference(0)
    next(first)
    second = colour_model.fast_inference(0)
    assert "Camera 0 was still held by an earlier inference loop" in capsys.readouterr().out
    assert camera.released == 1
    assert list(first) == []  # the first loop ends quietly
    assert len(list(second)) == len(SEGMENTS) * PER_SEGMENT
    assert camera.released == 2


def test_a_camera_number_that_opens_nothing_is_explained(colour_model):
    with pytest.raises(ImageError, match=r"Camera 97 could not be opened: (there is no camera with "
                                         r"that number|this computer has no camera).* pass a video "
                                         r"file instead: model.inference\('clip.mp4'\)"):
        colour_model.fast_inference(97)


def test_a_missing_video_says_where_it_looked(colour_model, tmp_path):
    with pytest.raises(PathNotFoundError, match=r"Video '.*holiday.mp4' does not exist \(looked in"):
        colour_model.fast_inference(str(tmp_path / "holiday.mp4"))


def test_an_unreadable_video_is_explained_when_inference_is_called(colour_model, tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_text("not a video")
    with pytest.raises(ImageError, match=r"Cannot open '.*broken.mp4' as a video: OpenCV \(FFMPEG\) "
                                         r"could not read it.*codec.*ffmpeg -i clip.mov"):
        colour_model.fast_inference(broken)  # raised by the call, before any loop
    empty = tmp_path / "empty.avi"
    empty.write_bytes(b"")
    with pytest.raises(ImageError, match=r"'.*empty.avi' as a video: the file is empty \(0 bytes\)"):
        colour_model.fast_inference(empty)


def test_frame_options_with_a_picture_are_refused(colour_model):
    with pytest.raises(ImageError, match=r"every=5 only applies to videos and cameras, but a ndarray is not one"):
        colour_model.fast_inference(np.zeros((16, 16, 3), np.uint8), every=5, color_order="rgb")
    with pytest.raises(ImageError, match=r"every=0 is not valid: use a whole number of at least 1"):
        colour_model.fast_inference(0, every=0)


def test_a_video_among_pictures_is_explained(colour_model, clip):
    with pytest.raises(ImageError, match=r"clip.mp4' is a video. model.inference\('.*clip.mp4'\) "
                                         r"classifies it frame by frame"):
        colour_model.fast_inference([str(clip)])


def test_a_video_cut_short_says_how_many_of_its_frames_were_read(colour_model, tmp_path, capsys):
    whole = tmp_path / "whole.avi"
    writer = cv2.VideoWriter(str(whole), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (SIZE, SIZE))
    rng = np.random.default_rng(0)
    for _ in range(20):  # noisy frames: the file is mostly frames, so half of it holds some
        noise = rng.integers(-30, 30, (SIZE, SIZE, 3))
        writer.write(np.clip(np.array(BGR["red"]) + noise, 0, 255).astype(np.uint8))
    writer.release()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(whole.read_bytes()[:whole.stat().st_size // 2])  # a copy that did not finish
    results = list(colour_model.fast_inference(cut))
    assert 0 < len(results) < 20
    assert (f"Video '{cut}' ended after {len(results)} of its about 20 frames: the rest could not "
            f"be decoded") in capsys.readouterr().out


def test_the_annotated_video_never_replaces_its_input(colour_model, clip):
    with pytest.raises(ImageError, match=r"The annotated video would replace its input .*clip.mp4'. "
                                         r"Pass another save_fold"):
        colour_model.inference(clip, save_fold=clip.parent)
