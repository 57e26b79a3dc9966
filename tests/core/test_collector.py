"""The collector policy of a run: objects alive at the start frozen, rare young collections, all restored."""

from __future__ import annotations

import pytest


def test_collector_for_batch_freezes_and_restores_even_after_an_error():
    import gc

    from gisefficiency.core.collector import collector_for_batch

    before = gc.get_threshold()
    with pytest.raises(RuntimeError, match="inside"), collector_for_batch():
        # Objects alive at the start are frozen; the young generation is collected every 50,000 allocations.
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (50_000, *before[1:])
        with collector_for_batch():  # a nested block (another thread's stage) changes nothing
            assert gc.get_threshold()[0] == 50_000
        assert gc.get_threshold()[0] == 50_000
        raise RuntimeError("stage failed inside")
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_collector_for_batch_still_collects_cycles_made_inside():
    import gc
    import weakref

    from gisefficiency.core.collector import collector_for_batch

    class Node:
        pass

    with collector_for_batch():
        a, b = Node(), Node()
        a.other, b.other = b, a  # a cycle: reference counting alone never frees it
        gone = weakref.ref(a)
        del a, b
        gc.collect()
        assert gone() is None
