#!/usr/bin/env python3
"""rusage: run a command, report its outcome and the CPU it used.

  rusage.py CMD [ARG...]

Prints "start T" (wall clock) before starting CMD, and when it ends
"result exitN elapsed S cpu C calls 1" as the other senders do (R is
"ok" for exit status 0), C the user+system time of CMD and its children
(wait4).  Exits with CMD's status.
"""
import os
import sys
import time


def main():
    print(f"start {time.time():.6f}", flush=True)
    m0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(sys.argv[1], sys.argv[1:])
        finally:
            os._exit(127)
    _, status, ru = os.wait4(pid, 0)
    rc = os.waitstatus_to_exitcode(status)
    r = "ok" if rc == 0 else f"exit{rc}"
    print(f"result {r} elapsed {time.monotonic() - m0:.3f} cpu {ru.ru_utime + ru.ru_stime:.3f} calls 1", flush=True)
    sys.exit(rc if rc >= 0 else 128 - rc)


if __name__ == "__main__":
    main()
