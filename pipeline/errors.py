"""The one exception family. The domain raises; the caller (CLI, flow) decides what to do.

Every message a user sees names the file and the reason, on one line.
"""

from __future__ import annotations


class PipelineError(Exception):
    """Base of every error the pipeline raises on purpose."""

    def __init__(self, reason: str, path: str | None = None) -> None:
        self.reason = reason
        self.path = path
        super().__init__(f"{path}: {reason}" if path else reason)


class MetadataError(PipelineError):
    """A file's metadata cannot be read at all (not an image, truncated, unsupported)."""


class TelemetryError(MetadataError):
    """A telemetry (.SRT) file holds no usable entry."""


class FrameError(PipelineError):
    """A frame's own bytes cannot be used (undecodable, no pixels, too many pixels): the final verdict on
    that frame. Anything else that stops a frame (the model, the disk, the database) is not the frame's fault
    and must never be recorded as its result."""


class PixelLimitError(FrameError, MetadataError):
    """An image's header declares more pixels than the configured limit: refused before any decoding."""


class GeoreferenceError(PipelineError):
    """A pixel has no ground point, or the pose needed for it is missing."""


class SimulationError(PipelineError):
    """A simulated flight cannot be built with the given settings."""


class ModelError(PipelineError):
    """The detector cannot be loaded or run."""


class CaseError(PipelineError):
    """The case queue refuses an operation: unknown case or user, bad setting, unreachable database."""


class TransitionError(CaseError):
    """A case cannot move from its current state by the requested action."""
