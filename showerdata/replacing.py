"""Writing files and directories so readers see the old or the new, never a part."""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from .failpoints import failpoint


@contextmanager
def replacing(path: str) -> Iterator[str]:
    """A temporary path beside ``path``, renamed to ``path`` when the block succeeds.

    On an error (or a kill) nothing at ``path`` changes; the temporary file is
    removed, or left behind under a hidden ``.<name>.<hex>.partial`` name.
    """
    directory, name = os.path.split(os.path.abspath(path))
    partial = os.path.join(directory, f".{name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        yield partial
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def _renameat2() -> Callable[..., int] | None:
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # not Linux, or a C library before glibc 2.28
        return None
    function.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    function.restype = ctypes.c_int
    return function


_RENAMEAT2 = _renameat2()
_AT_FDCWD = -100  # paths relative to the working directory, as os.replace takes them
_RENAME_EXCHANGE = 2
#: What renameat2 answers where the kernel or the file system cannot exchange.
_CANNOT_EXCHANGE = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP}


def exchange(first: str, second: str) -> bool:
    """Swap two existing paths (files or directories) in one step, if the system can.

    Linux's ``renameat2(RENAME_EXCHANGE)``: a directory replaced this way is
    never missing, as it is between the two renames that replacing a
    non-empty directory otherwise takes. Returns False, having changed
    nothing, where the system or the file system (e.g. NFS) cannot.
    """
    if _RENAMEAT2 is None:
        return False
    done = _RENAMEAT2(
        _AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE
    )
    if done == 0:
        return True
    error = ctypes.get_errno()
    if error in _CANNOT_EXCHANGE:
        return False
    raise OSError(error, os.strerror(error), first, None, second)


def replace_directory(new: str, path: str) -> None:
    """Move ``new`` to ``path``, replacing (and removing) what was there.

    Where the system can, the two swap places in one step (:func:`exchange`),
    so that ``path`` is never missing; elsewhere the old one is renamed away
    first, under a hidden ``.<name>.<hex>.replaced`` name.
    """
    if not os.path.exists(path):
        os.replace(new, path)
        return
    if exchange(new, path):
        failpoint("replace.after-exchange")
        remove(new)  # the old one, now
        return
    directory, name = os.path.split(os.path.abspath(path))
    old = os.path.join(directory, f".{name}.{uuid.uuid4().hex[:8]}.replaced")
    os.replace(path, old)
    os.replace(new, path)
    remove(old)


def check_parent_directory(path: str) -> None:
    """Raise :class:`FileNotFoundError` unless the directory ``path`` goes in exists."""
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise FileNotFoundError(
            f"Cannot write '{path}': directory '{parent}' does not exist."
        )


def remove(path: str, ignore_errors: bool = False) -> None:
    """Remove the file or directory tree at ``path``, if there is one."""
    if os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=ignore_errors)
    elif os.path.exists(path):
        os.remove(path)
