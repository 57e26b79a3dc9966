"""The in-stage progress mechanism: a step yields ``advance(done, total)``; parts add up."""

from __future__ import annotations

import itertools
import threading

from gisefficiency.core.progress import Parts, advance_of, quiet, quiet_step


def test_quiet_step_yields_an_advance_that_does_nothing():
    with quiet_step("stage") as advance:
        assert advance is quiet
        assert advance(3, 10) is None


def test_advance_of_a_step_that_yields_nothing_is_quiet():
    # A step written before advances existed yields None: stages still get a callable.
    assert advance_of(None) is quiet
    seen = []

    def record(done, total):
        seen.append((done, total))

    assert advance_of(record) is record


def test_parts_add_up_done_and_total():
    seen = []
    parts = Parts(lambda done, total: seen.append((done, total)))
    parcels, firms = parts.part(), parts.part()
    parcels(0, 100)
    firms(50, 300)
    parcels(100, 100)
    firms(300, 300)
    assert seen == [(0, 100), (50, 400), (150, 400), (400, 400)]


def test_parts_from_two_threads_never_go_backwards():
    seen = []
    parts = Parts(lambda done, total: seen.append(done))
    sources = [parts.part(), parts.part()]

    def work(advance):
        for k in range(1, 1001):
            advance(k, 1000)

    threads = [threading.Thread(target=work, args=(s,)) for s in sources]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen[-1] == 2000
    assert all(b >= a for a, b in itertools.pairwise(seen))
