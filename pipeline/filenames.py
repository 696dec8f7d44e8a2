"""File names as they arrive from a disk, which need not be UTF-8: a folder copied from a Windows machine
with GBK names, a name mangled on a card. Python keeps such bytes as lone surrogates, which neither the case
database, JSON nor a web page can carry, so one such name used to sink a whole flight at push (naming the
folder, not the file). The pipeline refuses such a file on its own, naming it with the bytes escaped
(`\\xb5\\xda.JPG`), and goes on with the rest."""

from __future__ import annotations

import os

NOT_UTF8 = "the file name is not UTF-8 text (its bytes are shown as \\xNN): rename the file"
NOT_UTF8_FOLDER = "the folder name is not UTF-8 text (its bytes are shown as \\xNN): rename the folder"


def is_text(name: str) -> bool:
    """Whether `name` is text every store can carry (no undecodable bytes)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown(name: str) -> str:
    """`name` for messages, logs and JSON: as it is when it is text, else with its raw bytes as `\\xNN`."""
    if is_text(name):
        return name
    return os.fsencode(name).decode("utf-8", "backslashreplace")
