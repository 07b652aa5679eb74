"""The seed's warning as a function: its libraries live on a file system, and it reads them all
at init (as importing a large package does). Each new environment is a new client with a cold
cache, as on Lambda, so the pages are dropped before reading (``POSIX_FADV_DONTNEED``): every
cold start costs the file system its libraries' bytes, metered at a third as reads are."""

import os
import time

LIBS = os.environ.get("LIBS_DIR", "/mnt/libs")

_start = time.monotonic()
LOADED = 0
for _name in sorted(os.listdir(LIBS)):
    _fd = os.open(os.path.join(LIBS, _name), os.O_RDONLY)
    try:
        os.posix_fadvise(_fd, 0, 0, os.POSIX_FADV_DONTNEED)
        while _block := os.read(_fd, 1 << 20):
            LOADED += len(_block)
    finally:
        os.close(_fd)
INIT_S = time.monotonic() - _start


def handler(event, context):
    return {"loaded": LOADED, "init_s": round(INIT_S, 3)}
