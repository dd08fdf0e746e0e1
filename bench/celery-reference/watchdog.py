"""Ends this process's group when the bench that started it is gone.

The bench gives each reference process a pipe for stdin and never writes to it; when the bench
exits, even by SIGKILL, the pipe ends, and the web server or the Celery worker (with the pool
children it forked) goes too instead of staying behind on the machine.
"""
import os
import signal
import threading


def _wait_for_end_of_stdin() -> None:
    # The raw descriptor, not sys.stdin: a read on sys.stdin holds its buffer's lock, and Celery's
    # pool children, forked while this thread reads, close sys.stdin and would wait on that lock.
    while os.read(0, 4096):
        pass
    os.killpg(os.getpgrp(), signal.SIGKILL)


if os.environ.get("REFERENCE_EXIT_WITH_STDIN") == "1":
    threading.Thread(target=_wait_for_end_of_stdin, name="exit-with-stdin", daemon=True).start()
