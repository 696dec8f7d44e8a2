"""Open videos, and their one owner per process.

Frames of a video are read by grabbing forward from an open reader (decoding only what is kept), which is
frame-exact where seeking by index is not for every codec. Reopening means decoding from the start again,
so readers stay open between frames, and `VideoReaders` owns them: it hands each frame the reader nearest
behind it (frames out of order, from several threads or Dask, do not rewind one shared reader), keeps at most
a few videos open (the least recently used is closed), and `close()` releases every handle. The process's
instance is `open_videos()`; `close_videos()` is called when a flight ends, on every Dask worker too.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

from pipeline.errors import FrameError

if TYPE_CHECKING:
    import numpy as np


class VideoReader:
    """One video, read forward. Asking for an earlier frame than its position reopens it."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._cap: object | None = None
        self._next = 0
        self.lock = threading.Lock()

    @property
    def position(self) -> int:
        """The frame the next read continues from without reopening (0 when closed)."""
        return self._next if self._cap is not None else 0

    def _open(self) -> object:
        import cv2

        self.close()
        cap = cv2.VideoCapture(self.path)
        if not cap.isOpened():
            raise FrameError("cannot open video", self.path)
        self._cap, self._next = cap, 0
        return cap

    def read(self, index: int) -> np.ndarray:
        with self.lock:
            cap: object = self._cap if self._cap is not None and index >= self._next else self._open()
            while self._next < index:
                if not cap.grab():  # type: ignore[attr-defined]
                    raise FrameError(f"the video ends before frame {index + 1}", self.path)
                self._next += 1
            ok, image = cap.read()  # type: ignore[attr-defined]
            if not ok or image is None:
                raise FrameError(f"cannot decode frame {index + 1}", self.path)
            self._next += 1
            out: np.ndarray = image
            return out

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()  # type: ignore[attr-defined]
            self._cap = None
            self._next = 0


class VideoReaders:
    """The open readers of one process (module docstring). Thread-safe."""

    def __init__(self, max_videos: int = 4, per_video: int = 3) -> None:
        self.max_videos, self.per_video = max_videos, per_video
        self._videos: OrderedDict[str, list[VideoReader]] = OrderedDict()
        self._busy: set[int] = set()  # id() of readers reading now: never closed under a reader
        self._lock = threading.Lock()

    def read(self, path: str, index: int) -> np.ndarray:
        reader = self._take(path, index)
        try:
            return reader.read(index)
        finally:
            with self._lock:
                self._busy.discard(id(reader))

    def _take(self, path: str, index: int) -> VideoReader:
        with self._lock:
            readers = self._videos.setdefault(path, [])
            self._videos.move_to_end(path)
            idle = [r for r in readers if id(r) not in self._busy]
            behind = [r for r in idle if 0 < r.position <= index]
            if behind:
                reader = max(behind, key=lambda r: r.position)
            elif len(readers) < self.per_video:
                reader = VideoReader(path)
                readers.append(reader)
            elif idle:  # every idle reader is past this frame: the one furthest behind reopens
                reader = min(idle, key=lambda r: r.position)
            else:  # all busy: wait for the one nearest behind (or any)
                reader = max(readers, key=lambda r: r.position if r.position <= index else -1)
            self._busy.add(id(reader))
            self._evict()
            return reader

    def _evict(self) -> None:
        while len(self._videos) > self.max_videos:
            oldest = next(iter(self._videos))
            if any(id(r) in self._busy for r in self._videos[oldest]):
                return
            for reader in self._videos.pop(oldest):
                reader.close()

    def open_count(self) -> int:
        with self._lock:
            return sum(1 for readers in self._videos.values() for r in readers if r.position > 0)

    def close(self) -> None:
        """Release every handle that is not being read from right now."""
        with self._lock:
            for path in list(self._videos):
                readers = self._videos[path]
                keep = [r for r in readers if id(r) in self._busy]
                for reader in readers:
                    if id(reader) not in self._busy:
                        reader.close()
                if keep:
                    self._videos[path] = keep
                else:
                    del self._videos[path]


@functools.cache
def open_videos() -> VideoReaders:
    """This process's open videos (created on first use)."""
    return VideoReaders()


def close_videos() -> None:
    open_videos().close()
