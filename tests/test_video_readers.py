"""The process's open videos: frames read out of order give the pixels of a plain in-order decode, continue
from the reader nearest behind them instead of decoding from the start, and close() releases every handle."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np

from pipeline.video_readers import VideoReaders

VIDEO = Path(__file__).resolve().parents[1] / "sample_flights" / "video_patrol" / "DJI_0001.MP4"


def _decoded_in_order() -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(VIDEO))
    frames = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        frames.append(image)
    cap.release()
    return frames


def test_frames_out_of_order_match_an_in_order_decode_and_never_rewind_a_reader() -> None:
    truth = _decoded_in_order()
    assert len(truth) == 25
    videos = VideoReaders(per_video=3)
    # Two workers' frames interleaved (12 continues from 4: nearer than opening anew), then one behind both.
    order = [20, 3, 21, 4, 22, 12, 23, 13, 1]
    for index in order:
        assert np.array_equal(videos.read(str(VIDEO), index), truth[index]), index
    readers = videos._videos[str(VIDEO)]
    # One reader per stream of frames, each continued forward: none was rewound to decode from frame 0.
    assert sorted(r.position for r in readers) == [2, 14, 24]
    assert videos.open_count() == 3
    videos.close()
    assert videos.open_count() == 0 and videos._videos == {}


def test_at_most_a_few_videos_stay_open(tmp_path: Path) -> None:
    copies = []
    for k in range(6):
        copy = tmp_path / f"v{k}.MP4"
        shutil.copy2(VIDEO, copy)
        copies.append(str(copy))
    videos = VideoReaders(max_videos=4)
    for path in copies:
        videos.read(path, 2)
    assert videos.open_count() == 4 and list(videos._videos) == copies[2:]  # the least recent closed
    videos.close()
