"""The seed's warning as a function: its libraries live on a file system, and it reads them all
at init (as importing a large package does).

Each Lambda environment is an NFS client of its own, with a cold cache: every cold start reads
the libraries from EFS again. Shoal's environments share the host's page cache, so the function
reads with ``O_DIRECT`` (into a page-aligned buffer, as it requires) to do what a new client
does: every cold start costs the file system its libraries' bytes, metered at a third as
reads are."""

import mmap
import os
import time

LIBS = os.environ.get("LIBS_DIR", "/mnt/libs")
BLOCK = 1 << 20
WORK_S = float(os.environ.get("WORK_S", "0.5"))

_start = time.monotonic()
_buffer = mmap.mmap(-1, BLOCK)  # page-aligned
LOADED = 0
for _name in sorted(os.listdir(LIBS)):
    _fd = os.open(os.path.join(LIBS, _name), os.O_RDONLY | os.O_DIRECT)
    try:
        while _got := os.readv(_fd, [_buffer]):
            LOADED += _got
    finally:
        os.close(_fd)
INIT_S = time.monotonic() - _start


def handler(event, context):
    time.sleep(WORK_S)  # the request's own work: concurrent requests need more environments
    return {"loaded": LOADED, "init_s": round(INIT_S, 3)}
