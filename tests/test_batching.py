"""The server's dynamic batcher on its own."""

import threading
import time


def test_batcher_workers_survive_a_batch_taken_by_another():
    """Two batch workers in their window at once: the one whose window ends later finds the queue emptied by the
    other; it must go back to waiting, not die (with --parallel 2 the server lost a worker this way)."""
    from bayling_cat.batching import Batcher

    batcher = Batcher(lambda key, items, deliver: list(items), window=0.2, workers=2)
    answers = []
    first = threading.Thread(target=lambda: answers.append(batcher.submit("k", ["a"], timeout=10)))
    first.start()
    time.sleep(0.05)
    answers.append(batcher.submit("k", ["b"], timeout=10))
    first.join(10)
    time.sleep(0.4)
    assert sorted(answers) == [["a"], ["b"]]
    assert all(t.is_alive() for t in batcher._threads)
    batcher.stop()
