"""patrol: the imagery pipeline of a drone patrol squad (see ../shared/DESIGN.md)."""

__version__ = "0.1.0"
