"""Progress inside a stage: how much of a long stage is done, reported at chunk boundaries.

The pipeline wraps each stage in ``step(label)``, a context manager the caller gives (the CLI draws a
rich progress bar with it; the Python API is silent unless a ``step`` is passed). The value that
context manager yields may be an :data:`Advance`, a callable ``advance(done, total)``; the pipeline
hands it to the stage functions that can report (``progress=`` keyword), and uses
:func:`quiet` when the step yields anything else (a plain ``yield`` gives ``None``).

A stage calls ``progress(done, total)`` at chunk boundaries (a block of rows read, a batch of
permutations, a file written), never once per row: ``done`` of ``total`` units of the stage's
own choosing (rows, permutations, files). ``total`` may grow while the stage learns its size. Calls
may come from the side thread; :class:`Parts` adds up several sources that run at once (the firm
table read beside the parcels) into one count for the step.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["Advance", "Parts", "Step", "advance_of", "quiet", "quiet_step"]

#: ``advance(done, total)``: ``done`` of ``total`` units of the stage finished so far.
Advance = Callable[[int, int], None]

#: ``step(label)``: a context manager wrapping one stage; what it yields may be an :data:`Advance`.
Step = Callable[[str], contextlib.AbstractContextManager[Any]]


def quiet(done: int, total: int) -> None:
    """An :data:`Advance` that reports nothing (the Python API's default)."""


@contextlib.contextmanager
def quiet_step(label: str) -> Iterator[Advance]:
    """A :data:`Step` that shows nothing and yields :func:`quiet`."""
    yield quiet


def advance_of(handle: Any) -> Advance:
    """The :data:`Advance` a step yielded, or :func:`quiet` when it yielded none (e.g. ``None``)."""
    return handle if callable(handle) else quiet


class Parts:
    """Several sources reporting into one :data:`Advance`: their ``done`` and ``total`` are added up.

    Parameters
    ----------
    progress
        Where the sums go.

    Examples
    --------
    >>> seen = []
    >>> parts = Parts(lambda done, total: seen.append((done, total)))
    >>> parcels, firms = parts.part(), parts.part()
    >>> parcels(0, 100); firms(50, 300); parcels(100, 100)
    >>> seen
    [(0, 100), (50, 400), (150, 400)]
    """

    def __init__(self, progress: Advance) -> None:
        self._progress = progress
        self._counts: list[tuple[int, int]] = []
        self._lock = threading.Lock()

    def part(self) -> Advance:
        """A new source: an :data:`Advance` whose counts are added to the others'."""
        with self._lock:
            index = len(self._counts)
            self._counts.append((0, 0))

        def advance(done: int, total: int) -> None:
            # The sum is formed and reported under the lock, so counts never go backwards between threads.
            with self._lock:
                self._counts[index] = (int(done), int(total))
                self._progress(sum(d for d, _ in self._counts), sum(t for _, t in self._counts))

        return advance
