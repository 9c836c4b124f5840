"""Files that readers see whole or not at all: write beside, then rename; clean up leftovers.

Every file MODS replaces while others may read it (model bundles, training records, datapool
day files, ``mods-predict --output``, generated logs) goes through :func:`replacing`: the
content is written to a hidden ``.<name>.<pid>.<random>.tmp`` in the same folder, then
renamed over the target.  A process killed in between leaves only that hidden file, which
:func:`remove_abandoned` deletes once its process is gone.
"""

import contextlib
import os
import re
import tempfile
import time
from pathlib import Path

#: ``.<name>.<pid>.<random>.tmp``: the temporary files of :func:`replacing`.
TEMPORARY_RE = re.compile(r"^\..+\.(\d+)\.[A-Za-z0-9_]+\.tmp$")


def pid_alive(pid):
    """Whether process ``pid`` exists (and is not this process)."""
    try:
        pid = int(pid)
    except (TypeError, ValueError):
        return False
    if pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    try:  # a zombie (killed, not yet reaped by its new parent) is gone too
        with open("/proc/%d/stat" % pid) as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def fsync_dir(folder):
    """Flush a folder's entries (a rename) to disk, where the platform allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def replacing(path, durable=False, stem=None):
    """Yield a temporary path beside ``path``; when the block ends normally it replaces
    ``path`` (created with its folder if needed); on any error it is removed.

    Parameters
    ----------
    path : str or Path
        The file to write.
    durable : bool
        Flush the content and the rename to disk (model bundles).
    stem : str, optional
        Name used in the temporary file's name (default: ``path``'s name).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".%s.%d." % (stem or path.name, os.getpid()),
                               suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # as open() would create it
        yield Path(tmp)
        if durable:
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
        if durable:
            fsync_dir(path.parent)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def atomic_write(path, data, durable=False):
    """Replace ``path`` with ``data`` (bytes, or text written as UTF-8) in one rename."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    with replacing(path, durable) as tmp:
        tmp.write_bytes(data)


def remove_abandoned(folder, max_age=3600.0):
    """Remove the hidden ``*.tmp`` files in ``folder`` whose writing will never finish.

    One named by :func:`replacing` is removed when its process no longer exists; any other
    when older than ``max_age`` seconds.  Writes in progress in other processes are left.

    Returns
    -------
    list of str
        The names of the files removed.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for tmp in folder.glob(".*.tmp"):
        match = TEMPORARY_RE.match(tmp.name)
        try:
            if match:
                if pid_alive(match.group(1)):
                    continue
            elif time.time() - tmp.stat().st_mtime < max_age:
                continue
            tmp.unlink()
            removed.append(tmp.name)
        except OSError:
            pass
    return sorted(removed)
