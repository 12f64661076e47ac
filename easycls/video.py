"""Videos and cameras: frames read with OpenCV, classified in order, an annotated copy written.

`video_results` is what `model.inference('clip.mp4')`, `inference(0)` (a camera) and
`inference(cv2.VideoCapture(...))` return: a generator of one result dict per classified
frame, so a live loop works in a script or a notebook. OpenCV gives frames in BGR order;
they are turned into RGB pictures here, so users never pass color_order for a video.
What this module opens (a file, a camera) it releases when the generator ends, is
closed (`break`, `.close()`) or is garbage-collected; a capture the user passes stays
the user's. Sits above inference (the Predictor) and visualize (the label drawing).
"""
import glob
import os
import sys
import time
from numbers import Integral
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional

import numpy as np
from PIL import Image

from .data.images import _opencv, _opencv_silenced, array_to_pil
from .errors import ImageError, PathNotFoundError
from .inference import InputItem, Predictor, is_video_file
from .log import logger
from .process import is_main_process
from .visualize.annotate import draw_label, label_text

BATCH_SIZE = 16  # frames of a file scored at once; a camera's are scored one by one (latency)
BATCH_BYTES = 256 * 2 ** 20  # at most this much of decoded frames held, however large they are
DEFAULT_FPS = 30.0  # for the annotated video, where the source does not say its own
FOURCC = "mp4v"

# Camera number -> the capture a generator of this module holds open. A generator kept
# alive (a notebook variable, a loop stopped by an error) would keep the camera busy;
# opening the same camera again closes that one first.
_CAMERAS: Dict[int, object] = {}


def is_video_source(image) -> bool:
    """A video file, a camera number or an OpenCV capture (anything with read/grab/get)."""
    if isinstance(image, Integral) and not isinstance(image, bool):
        return True
    if isinstance(image, (str, os.PathLike)):
        return is_video_file(image) and not os.path.isdir(image)
    return all(callable(getattr(image, name, None)) for name in ("read", "grab", "get", "isOpened"))


def check_frame_options(every, max_frames) -> None:
    if isinstance(every, bool) or not isinstance(every, Integral) or every < 1:
        raise ImageError(f"every={every!r} is not valid: use a whole number of at least 1 "
                         f"(every=5 classifies frames 0, 5, 10, ...).")
    if max_frames is not None and (isinstance(max_frames, bool) or not isinstance(max_frames, Integral)
                                   or max_frames < 1):
        raise ImageError(f"max_frames={max_frames!r} is not valid: use a whole number of at least 1 "
                         f"(stop after classifying that many frames), or None for the whole video.")


def refuse_frame_options(image, every, max_frames) -> None:
    """every= and max_frames= given with pictures would silently change nothing."""
    given = [f"every={every!r}"] * (every != 1) + [f"max_frames={max_frames!r}"] * (max_frames is not None)
    if given:
        what = f"'{image}'" if isinstance(image, (str, os.PathLike)) else f"a {type(image).__name__}"
        raise ImageError(f"{' and '.join(given)} only {'apply' if len(given) > 1 else 'applies'} to "
                         f"videos and cameras, but {what} is not one (videos: .mp4, .avi, .mov, "
                         f".mkv, .webm, ...; cameras: 0, 1, ...). Leave "
                         f"{'them' if len(given) > 1 else 'it'} out for pictures.")


def video_results(predictor: Predictor, image, every: int = 1, max_frames: Optional[int] = None,
                  save_fold=None, color_order: Optional[str] = None,
                  on_result: Optional[Callable[[dict], None]] = None) -> Iterator[dict]:
    """A generator of per-frame result dicts for a video file, camera number or capture.

    Each dict is inference's ({'image', 'pred_label', 'pred_score', 'pred_class', 'topk'})
    plus 'frame' (its number in the video, from 0) and 'time' (seconds into the video; for
    a camera, since its first frame). every=N classifies frames 0, N, 2N, ...; max_frames
    stops after that many results. save_fold: write an annotated copy there (an .mp4 of the
    same size and fps, every frame labelled with the latest result; main process only).
    The source is opened and its first frame read before this returns, so a video that
    cannot be read raises here, not in the loop.
    """
    check_frame_options(every, max_frames)
    if color_order not in (None, "bgr", "BGR"):
        raise ImageError(f"color_order={color_order!r} does not apply to videos: OpenCV gives "
                         f"frames in BGR order, and easycls turns them into RGB itself. Leave "
                         f"color_order out.")
    frames = _frames(predictor, image, every, max_frames, save_fold, on_result)
    next(frames)  # open and read the first frame now; from here on closing the generator releases
    return frames


def _frames(predictor, image, every, max_frames, save_fold, on_result):
    cv2 = _cv2()
    source = _Source.open(image, cv2)
    writer, closed = None, False
    try:
        first = source.first_frame()
        if save_fold is not None and is_main_process():
            writer = _AnnotatedVideo(cv2, source, save_fold, first)
        yield None  # primed by video_results
        # A camera's frames one by one (no waiting for a batch); a file's in batches.
        batch = 1 if source.live else max(1, min(BATCH_SIZE, BATCH_BYTES // max(1, first.nbytes)))
        pending, done, label = [], 0, None
        for frame in source.frames(first, every, keep_skipped=writer is not None):
            pending.append(frame)
            done += frame.classify
            last = max_frames is not None and done >= max_frames
            if len(pending) >= batch or last:
                label = yield from _emit(predictor, source, pending, writer, label, on_result)
                pending = []
            if last:
                break
        else:
            yield from _emit(predictor, source, pending, writer, label, on_result)
    except GeneratorExit:  # break, .close(), or the generator dropped
        closed = True
        raise
    finally:
        if writer is not None:
            writer.close(closed and not source.live)
        source.release()


def _emit(predictor, source, frames, writer, label, on_result):
    """Score the classified frames among `frames`, write them all (each labelled with the
    latest result) and yield the results in order; returns the latest label."""
    chosen = [frame for frame in frames if frame.classify]
    results = iter(_classified(predictor, source, chosen) if chosen else ())
    for frame in frames:
        result = next(results) if frame.classify else None
        if result is not None:
            label = label_text(result) if writer is not None else None
        if writer is not None:
            writer.write(frame.picture(), label)
        if result is not None:
            if on_result is not None:
                on_result(result)
            yield result
    return label


def _classified(predictor: Predictor, source: "_Source", frames: List["_Frame"]) -> List[dict]:
    items = [InputItem(source.path, frame.picture(), source.name) for frame in frames]
    batch = np.stack([predictor.prepare(item) for item in items])
    results = predictor.results(items, predictor.scores(batch))
    for frame, result in zip(frames, results):
        result["frame"], result["time"] = frame.index, round(frame.seconds, 3)
    return results


class _Frame:
    """One frame read from the source: its number, time, BGR pixels and whether it is classified."""

    __slots__ = ("index", "seconds", "bgr", "classify", "_picture")

    def __init__(self, index: int, seconds: float, bgr: Optional[np.ndarray], classify: bool):
        self.index, self.seconds, self.bgr, self.classify = index, seconds, bgr, classify
        self._picture = None

    def picture(self) -> Image.Image:
        """The frame as an RGB (or gray) picture: OpenCV's BGR order turned round."""
        if self._picture is None:
            self._picture = array_to_pil(self.bgr, "bgr")
        return self._picture


class _Source:
    """An opened capture: a video file, a camera (live) or the user's capture object."""

    def __init__(self, cv2, capture, *, title: str, path: Optional[str], out_name: str,
                 live: bool, owned: bool, camera: Optional[int] = None):
        self.cv2, self.capture, self.title, self.path = cv2, capture, title, path
        self.out_name, self.live, self.owned, self.camera = out_name, live, owned, camera
        self.name = os.path.basename(path) if path else out_name
        self.read = 0  # frames read so far, classified or not
        self.fps = DEFAULT_FPS
        self._origin, self._start, self._last = 0.0, 0.0, 0.0

    @classmethod
    def open(cls, image, cv2) -> "_Source":
        if isinstance(image, Integral):
            return cls._camera(int(image), cv2)
        if isinstance(image, (str, os.PathLike)):
            return cls._file(str(image), cv2)
        if not image.isOpened():
            raise ImageError("The OpenCV capture passed is not open: cv2.VideoCapture could not open "
                             "its file, camera or stream address (or it was released). Check the "
                             "path or address, or pass a file name or camera number instead.")
        count = image.get(cv2.CAP_PROP_FRAME_COUNT)
        return cls(cv2, image, title="The capture", path=None, out_name="video.mp4",
                   live=not count or count <= 0, owned=False)

    @classmethod
    def _file(cls, path: str, cv2) -> "_Source":
        if not os.path.exists(path):
            raise PathNotFoundError(f"Video '{path}' does not exist (looked in {Path.cwd()}). "
                                    f"Check the path and its spelling.")
        if not os.path.isfile(path):
            raise ImageError(f"'{path}' is not a regular file (a pipe or device), so it is not read "
                             f"as a video. Pass a video file, or the camera's number (0, 1, ...).")
        with _opencv_silenced(cv2):
            capture = cv2.VideoCapture(path)
        if not capture.isOpened():
            raise ImageError(f"Cannot open '{path}' as a video: {_why_unreadable(path, cv2)}. "
                             f"{UNREADABLE_FIX}")
        return cls(cv2, capture, title=f"Video '{path}'", path=path,
                   out_name=f"{Path(path).stem}.mp4", live=False, owned=True)

    @classmethod
    def _camera(cls, index: int, cv2) -> "_Source":
        if index < 0:
            raise ImageError(f"Camera number {index} is not valid: cameras are numbered 0, 1, 2, ... "
                             f"(0 is the built-in or first one).")
        held = _CAMERAS.pop(index, None)
        if held is not None:
            held.release()
            logger.info(f"Camera {index} was still held by an earlier inference loop that did not "
                        f"finish (stopped by an error, or its generator kept in a variable); it is "
                        f"closed now, and that loop ends.")
        with _opencv_silenced(cv2):
            capture = cv2.VideoCapture(index)
        if not capture.isOpened():
            raise ImageError(f"Camera {index} could not be opened: {_no_camera(index)}")
        _CAMERAS[index] = capture
        return cls(cv2, capture, title=f"Camera {index}", path=None, out_name=f"camera_{index}.mp4",
                   live=True, owned=True, camera=index)

    def first_frame(self) -> np.ndarray:
        """The first frame (BGR), or an error saying why there is none."""
        ok, frame = self.capture.read()
        if not ok or frame is None or frame.size == 0:
            if self.camera is not None:
                raise ImageError(f"Camera {self.camera} opened but sent no picture: another "
                                 f"program may be using it, or it is still starting. Close other "
                                 f"programs that use the camera and try again, or try another "
                                 f"number (1, 2, ...).")
            if self.path is not None:
                raise ImageError(f"'{self.path}' opened as a video, but no frame could be decoded: "
                                 f"{_why_unreadable(self.path, self.cv2)}. {UNREADABLE_FIX}")
            raise ImageError("The OpenCV capture passed gave no frame: it is at its end, or its "
                             "camera or stream sends nothing. Open it again, or pass a file name.")
        self.read = 1
        fps = self.capture.get(self.cv2.CAP_PROP_FPS) or 0.0
        self.fps = fps if 0 < fps <= 1000 else DEFAULT_FPS  # a believable rate, else the default
        self._origin = self.capture.get(self.cv2.CAP_PROP_POS_MSEC) or 0.0
        self._start = time.monotonic()
        return frame

    def _seconds(self, index: int) -> float:
        """Seconds since the first frame: by the frames' timestamps (index / fps where the
        container has none); for a live source, by the clock."""
        if self.live:
            seconds = time.monotonic() - self._start
        else:
            position = self.capture.get(self.cv2.CAP_PROP_POS_MSEC)
            seconds = (position - self._origin) / 1000 if position and position > 0 else index / self.fps
        self._last = max(self._last, seconds)  # never backwards, whatever a container says
        return self._last

    def frames(self, first: np.ndarray, every: int, keep_skipped: bool) -> Iterator[_Frame]:
        """Every frame to classify, and (keep_skipped: for the annotated video) those between;
        frames nobody needs are skipped without decoding."""
        yield _Frame(0, 0.0, first, True)
        index = 0
        while True:
            index += 1
            classify = index % every == 0
            if classify or keep_skipped:
                ok, frame = self.capture.read()
                ok = ok and frame is not None and frame.size > 0
            else:
                ok, frame = self.capture.grab(), None
            if not ok:
                self._say_if_cut_short()
                return
            self.read += 1
            if classify or keep_skipped:
                yield _Frame(index, self._seconds(index), frame, classify)

    def _say_if_cut_short(self) -> None:
        if self.live:
            logger.info(f"{self.title} stopped sending frames after {self.read} frame(s).")
            return
        count = self.capture.get(self.cv2.CAP_PROP_FRAME_COUNT) or 0
        if self.read < 0.95 * count - 1:  # the count is the container's estimate: some slack
            logger.warning(f"Warning: {self.title} ended after {self.read} of its about "
                           f"{count:.0f} frames: the rest could not be decoded (a damaged or "
                           f"unfinished file).")

    def release(self) -> None:
        if not self.owned:
            return  # the user's capture: they may read on, and release it themselves
        self.capture.release()
        if self.camera is not None and _CAMERAS.get(self.camera) is self.capture:
            del _CAMERAS[self.camera]


UNREADABLE_FIX = ("Check that it plays in a video player. If it does, convert it to H.264 MP4 "
                  "(e.g. ffmpeg -i clip.mov -c:v libx264 clip.mp4) and pass that file.")


def _why_unreadable(path: str, cv2) -> str:
    if os.path.getsize(path) == 0:
        return "the file is empty (0 bytes), a copy or recording that did not finish"
    registry = getattr(cv2, "videoio_registry", None)
    if registry is not None and not registry.hasBackend(cv2.CAP_FFMPEG):
        return ("this OpenCV was built without FFMPEG, which decodes video files (pip install "
                "opencv-python-headless gives one with it)")
    return ("OpenCV (FFMPEG) could not read it. It may be incomplete (still being copied or "
            "recorded), not a video, or use a codec this OpenCV lacks (such as H.265/HEVC or AV1)")


def _no_camera(index: int) -> str:
    video = "or pass a video file instead: model.inference('clip.mp4')."
    if sys.platform.startswith("linux") and not glob.glob("/dev/video*"):
        return (f"this computer has no camera device (no /dev/video*). Connect one (a virtual "
                f"machine or container needs it passed through), {video}")
    return (f"there is no camera with that number, or another program is using it. Close other "
            f"programs that use the camera (a video call, another notebook or script), try "
            f"another number (0 is the first camera), {video}")


class _AnnotatedVideo:
    """The source's frames, each labelled with the latest result, written as an .mp4 of the
    same size and fps in save_fold (named after the input; camera_0.mp4 for camera 0)."""

    def __init__(self, cv2, source: _Source, save_fold, first: np.ndarray):
        folder = Path(save_fold)
        self.path = folder / source.out_name
        if source.path is not None and self.path.resolve() == Path(source.path).resolve():
            raise ImageError(f"The annotated video would replace its input '{source.path}'. Pass "
                             f"another save_fold, e.g. save_fold='cls_result'.")
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK):
            raise ImageError(f"Cannot write the annotated video into '{folder}': the folder is not "
                             f"writable. Pass another save_fold, or show=False to classify without "
                             f"writing.")
        self.cv2, self.size, self.fps = cv2, (first.shape[1], first.shape[0]), source.fps
        self.replaced = self.path.exists()
        self.writer, self.count = None, 0  # opened at the first frame: a loop never run writes nothing

    def write(self, picture: Image.Image, label: Optional[str]) -> None:
        if self.writer is None:
            with _opencv_silenced(self.cv2):
                self.writer = self.cv2.VideoWriter(str(self.path), self.cv2.VideoWriter_fourcc(*FOURCC),
                                                   self.fps, self.size)
            if not self.writer.isOpened():
                raise ImageError(f"Cannot write the annotated video '{self.path}': OpenCV's "
                                 f"VideoWriter did not open it with the '{FOURCC}' codec. Check "
                                 f"the disk has room, or pass show=False to classify without writing.")
        picture = picture.convert("RGB")  # a copy: the result's picture stays as it was read
        if picture.size != self.size:
            picture = picture.resize(self.size)
        if label is not None:
            draw_label(picture, label)
        self.writer.write(self.cv2.cvtColor(np.asarray(picture), self.cv2.COLOR_RGB2BGR))
        self.count += 1

    def close(self, stopped_early: bool) -> None:
        if self.writer is None:
            return  # no frame came: nothing was written, an earlier run's video is untouched
        self.writer.release()
        logger.info(f"Saved the annotated video ({self.count} frames, {self.size[0]}x{self.size[1]}, "
                    f"{self.fps:g} fps) as '{self.path}'"
                    + (", replacing the one from an earlier run" if self.replaced else "")
                    + ("; the loop stopped before the end of the video" if stopped_early else "") + ".")


def _cv2():
    cv2 = _opencv()
    if cv2 is None:
        raise ImageError("Reading videos and cameras needs OpenCV, which cannot be imported here. "
                         "Install it: pip install opencv-python-headless.")
    return cv2
