"""The server's dynamic batcher on its own."""

import threading
import time


def test_batcher_workers_survive_a_batch_taken_by_another():
    """Two batch workers in their window at once: the one whose window ends later finds the queue emptied by the
    other; it must go back to waiting, not die (with --parallel 2 the server lost a worker this way)."""
    from bayling_cat.batching import Batcher

    batcher = Batcher(lambda key, texts, hints, deliver: list(texts), window=0.2, workers=2)
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


def test_examples_stay_with_their_texts_when_requests_share_a_batch():
    """One request with memory examples and one without, batched together: each text keeps its own examples;
    a batch where no text has any is run without them."""
    from bayling_cat.batching import Batcher

    calls = []

    def run(key, texts, hints, deliver, examples=None):
        calls.append((list(texts), examples))
        return [t.upper() for t in texts]

    batcher = Batcher(run, window=0.3)
    answers = {}
    first = threading.Thread(target=lambda: answers.update(a=batcher.submit("k", ["a", "b"], timeout=10)))
    first.start()
    time.sleep(0.05)
    answers["c"] = batcher.submit("k", ["c"], timeout=10, examples=[[("x", "X")]])
    first.join(10)
    assert answers == {"a": ["A", "B"], "c": ["C"]}
    assert len(calls) == 1 and sorted(calls[0][0]) == ["a", "b", "c"]
    texts, examples = calls[0]
    assert {t: e for t, e in zip(texts, examples)} == {"a": [], "b": [], "c": [("x", "X")]}
    batcher.submit("k", ["d"], timeout=10, examples=[[]])
    assert calls[-1] == (["d"], None)
    batcher.stop()
