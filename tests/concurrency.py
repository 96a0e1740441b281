"""The one way tests race: real threads released together, each on its own connection."""

import threading
from collections.abc import Callable
from typing import Any

from django.db import connections
from django.utils import translation


def run_in_threads(n: int, fn: Callable[[int], Any]) -> list[Any]:
    """Call `fn(i)` for i in 0…n-1, each in its own thread, all released at once by a barrier.

    Returns what each call returned, or the exception it raised (the test inspects both), in the
    order the calls finished. Every thread closes its database connections, or dropping the test
    database would fail on sessions left open.
    """
    barrier = threading.Barrier(n)
    outcomes: list[Any] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        try:
            barrier.wait()
            with translation.override("en"):  # the conftest's override holds in its own thread only
                result = fn(i)
        except Exception as exc:  # the outcome is what the test inspects
            result = exc
        finally:
            connections.close_all()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def errors_of(outcomes: list[Any]) -> list[Exception]:
    return [o for o in outcomes if isinstance(o, Exception)]
