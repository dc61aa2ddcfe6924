"""The llama.cpp engine's interactive path: sessions that keep a conversation's KV state between calls.

A second llama.cpp context on the engine's model serves predictive typing and revision turns, apart from the
batches of the main context (whose traffic never touches it). Sequence 0 holds the *live* session: the KV
cells of its prompt (the request, then what the translator typed). A call for the same session evaluates
only the tokens that differ from what sequence 0 already holds; a call for another session parks the live one
(``llama_state_seq_get_data``, its cells as bytes in a ``SessionStore``: LRU, bounded in number and bytes,
expiring) and loads its own (``llama_state_seq_set_data``) or starts fresh. Alternatives branch from the
prompt with ``llama_memory_seq_cp`` (cells shared, not copied) into sequences 1..n and are decoded together
with the continuation, one ``llama_decode`` per step, each to the end of its word.

**Reuse never changes an answer.** ggml's CPU kernels do not compute a token the same way in every batch:
a batch of one token takes the matrix-vector path (``ggml_vec_dot_*``) and a batch of two or more the tiled
``llamafile_sgemm`` path, whose sums round differently; flash attention likewise switches between a one-row,
a tiled and a split-KV kernel by batch size and cache size. The old prompt-prefix cache re-evaluated only
the last prompt token, alone in its batch, so a repeated request saw different logits than the first time
(and a greedy answer could change). Here every prompt token is evaluated in a batch of at least
``MIN_EVAL`` tokens (2 on x86, 4 elsewhere; kept cells are re-evaluated to make up the number); flash
attention is off (the attention is then the same tiled matrix products whatever the batch); the live
sequence always occupies cells 0..n-1 in order (llama.cpp puts freed cells back in front of its search
head); and only prompt tokens are ever kept: generated tokens, decoded one step at a time, are dropped and
re-evaluated as prompt tokens when a later prompt holds them. A token's keys and values then depend only on
the tokens before it, and a reused state is bit for bit the state a fresh evaluation computes
(``tests/test_interactive.py`` checks the logits and the tokens).

The batch context (``llamacpp.py``) keeps nothing between batches: it starts each from an empty cache, so
that a batch's answers depend on that batch alone (it keeps llama.cpp's flash attention: the translations of
a batch are then computed as before this change).
"""

from __future__ import annotations

import ctypes
import platform
import threading
from dataclasses import dataclass

from bayling_cat.errors import ModelError
from bayling_cat.sessions import Cancelled, SessionStore


def fill_batch(batch, items) -> None:
    """A llama_batch holding (token, position, sequence, wants logits) items, one sequence each; both contexts
    (the batch engine's and the sessions') evaluate through it."""
    batch.n_tokens = len(items)
    for j, (token, pos, seq, want) in enumerate(items):
        batch.token[j] = token
        batch.pos[j] = pos
        batch.n_seq_id[j] = 1
        batch.seq_id[j][0] = seq
        batch.logits[j] = want


# prompt tokens evaluated together at least: a batch of one token takes ggml's matrix-vector kernel, which
# rounds differently from the tiled one (llamafile_sgemm) that x86 uses from 2 tokens on, ARM from 4
MIN_EVAL = 2 if platform.machine().lower() in ("x86_64", "amd64", "i686", "x86") else 4
CHUNK = 512  # prompt tokens in one llama_decode
MAX_BRANCHES = 10  # alternatives decoded beside the continuation (/v1/complete allows 10)
CONTEXT = 4096  # tokens a session may hold (a longer conversation is answered by the batch context)
BRANCH_ROOM = 256  # cache cells beyond it for the alternatives' words
WORD_TOKENS = 12  # tokens an alternative may take to finish its word
SESSIONS = 32  # sessions kept (the live one and the parked ones)
SESSION_BYTES = 512 * 1024 * 1024  # KV bytes the parked sessions may hold together
SESSION_TTL = 900.0  # seconds a parked session lives after its last use


@dataclass
class _Parked:
    tokens: list[int]
    state: bytes


@dataclass
class Counters:
    """What the interactive context did: prompt tokens evaluated, decode steps, sessions reused or parked."""

    prompt_tokens: int = 0
    decode_steps: int = 0
    calls: int = 0
    reused_tokens: int = 0
    loaded: int = 0
    parked: int = 0
    cancelled: int = 0
    last_prompt_tokens: int = 0


class Interactive:
    """Sessions on a llama.cpp context of their own (see the module's docstring)."""

    def __init__(self, engine, max_sessions: int = SESSIONS, max_bytes: int = SESSION_BYTES,
                 ttl: float = SESSION_TTL):
        llama_cpp = engine._llama
        self.engine, self._llama = engine, llama_cpp
        self.branches = max(1, min(MAX_BRANCHES, (llama_cpp.llama_max_parallel_sequences() or 64) - 1))
        cparams = llama_cpp.llama_context_default_params()
        # the prompt, plus every branch's word, side by side; a second full-length cache would double the
        # memory a large model's KV cache takes, so a session holds at most CONTEXT tokens
        self.capacity = min(engine.info.context_length, CONTEXT)
        cparams.n_ctx = self.capacity + BRANCH_ROOM
        cparams.n_batch = cparams.n_ubatch = CHUNK
        cparams.n_seq_max = 1 + self.branches
        cparams.kv_unified = True  # branches share the prompt's cells
        cparams.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
        cparams.n_threads = cparams.n_threads_batch = engine.threads
        cparams.no_perf = True
        self._ctx = llama_cpp.llama_init_from_model(engine._model, cparams)
        if not self._ctx:
            raise ModelError(f"{engine.path}: llama.cpp cannot create the interactive context")
        self._memory = llama_cpp.llama_get_memory(self._ctx)
        self._batch = llama_cpp.llama_batch_init(CHUNK, 0, 1)
        self.lock = threading.Lock()
        self.live_key = None
        self.live: list[int] = []  # the prompt tokens sequence 0 holds
        self.store = SessionStore(max_sessions - 1 if max_sessions > 1 else 1, max_bytes, ttl)
        self.counters = Counters()

    def close(self) -> None:
        if self._batch is not None:
            self._llama.llama_batch_free(self._batch)
            self._batch = None
        if self._ctx:
            self._llama.llama_free(self._ctx)
            self._ctx = None

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass

    # -- the session's prompt -------------------------------------------------------------------------

    def acquire(self, cancel) -> None:
        """Take the context; a request cancelled while it waits gives up without ever running."""
        while not self.lock.acquire(timeout=0.02):
            if cancel is not None and cancel.is_set():
                self.counters.cancelled += 1
                raise Cancelled("a newer request for this segment replaced this one")

    def enter(self, key, context: list[int]):
        """Make sequence 0 hold ``context`` (the caller holds the lock); returns the logits after its last
        token. Only what differs from the session's kept tokens is evaluated."""
        if key != self.live_key or key is None:
            self._switch(key)
        keep = _common(self.live, context)
        keep = max(0, min(keep, len(context) - MIN_EVAL))
        self._llama.llama_memory_seq_rm(self._memory, 0, keep, -1)
        del self.live[keep:]
        self.counters.reused_tokens += keep
        todo = context[keep:]
        self.counters.last_prompt_tokens = len(todo)
        logits = None
        for start, end in _chunks(len(todo)):
            logits = self._eval([(t, keep + p, 0, keep + p == len(context) - 1)
                                 for p, t in enumerate(todo[start:end], start)])
        self.counters.prompt_tokens += len(todo)
        self.counters.calls += 1
        self.live = list(context)
        return logits[0].copy()

    def _switch(self, key) -> None:
        """Park the live session and bring ``key``'s back (or start it empty)."""
        llama_cpp = self._llama
        if self.live_key is not None and self.live:
            size = llama_cpp.llama_state_seq_get_size(self._ctx, 0)
            buf = (ctypes.c_uint8 * size)()
            written = llama_cpp.llama_state_seq_get_data(self._ctx, buf, size, 0)
            if written:
                self.store.put(self.live_key, _Parked(list(self.live), bytes(buf[:written])), written)
                self.counters.parked += 1
        llama_cpp.llama_memory_clear(self._memory, True)
        self.live, self.live_key = [], key
        parked = self.store.pop(key) if key is not None else None
        if parked is not None:
            data = (ctypes.c_uint8 * len(parked.state)).from_buffer_copy(parked.state)
            if llama_cpp.llama_state_seq_set_data(self._ctx, data, len(parked.state), 0):
                self.live = parked.tokens
                self.counters.loaded += 1
            else:
                llama_cpp.llama_memory_clear(self._memory, True)

    def forget(self, key) -> None:
        """Drop a session (its segment is done)."""
        with self.lock:
            self.store.pop(key)
            if self.live_key == key:
                self._llama.llama_memory_clear(self._memory, True)
                self.live, self.live_key = [], None

    # -- decoding -------------------------------------------------------------------------------------

    def _eval(self, items) -> dict:
        """(token, position, sequence, wants logits) items in one llama_decode; sequence -> logits row."""
        llama_cpp, np = self._llama, self.engine._np
        batch = self._batch
        fill_batch(batch, items)
        rc = llama_cpp.llama_decode(self._ctx, batch)
        if rc != 0:
            llama_cpp.llama_memory_clear(self._memory, True)
            self.live, self.live_key = [], None
            raise ModelError(f"{self.engine.path}: llama.cpp could not evaluate the interactive batch (code {rc})")
        out = {}
        for j, (_, _, seq, want) in enumerate(items):
            if want:
                ptr = llama_cpp.llama_get_logits_ith(self._ctx, j)
                out[seq] = np.ctypeslib.as_array(ptr, shape=(self.engine.n_vocab,))
        return out

    def run(self, seqs, first_logits, start: int, suppress, decoding, cancel, word_end=None, choose=None) -> None:
        """Decode ``seqs`` (engine ``_Seq`` objects; ``seq.slot`` is the sequence id, 0 the live one, the
        others branched from it) from ``first_logits`` at position ``start``, together, one llama_decode per
        step, checking ``cancel`` before every step. ``word_end(seq, token)``: True ends a branch before
        ``token`` (its word is complete); ``choose``: the calling engine's token choice (a ``with_decoding``
        copy has its own random generator). Generated cells are removed afterwards: only prompts are kept."""
        choose = choose or self.engine._choose
        llama_cpp = self._llama
        for s in seqs:
            if s.slot:
                llama_cpp.llama_memory_seq_cp(self._memory, 0, s.slot, 0, -1)
        logits = {s.slot: first_logits.copy() for s in seqs}
        active = list(seqs)
        try:
            while active:
                step = []
                for s in active:
                    token = choose(s, logits[s.slot], suppress, decoding)
                    if token is None or (word_end is not None and word_end(s, token)):
                        s.done = True
                        continue
                    s.out.append(token)
                    if len(s.out) >= s.limit:
                        s.done = True
                    else:
                        step.append((token, start + len(s.out) - 1, s.slot, True))
                active = [s for s in active if not s.done]
                if not active:
                    break
                if cancel is not None and cancel.is_set():
                    self.counters.cancelled += 1
                    raise Cancelled("a newer request for this segment replaced this one")
                logits = self._eval(step)
                self.counters.decode_steps += 1
        finally:
            llama_cpp.llama_memory_seq_rm(self._memory, 0, len(self.live), -1)
            for s in seqs:
                if s.slot:
                    llama_cpp.llama_memory_seq_rm(self._memory, s.slot, -1, -1)


def _chunks(n: int):
    """Batches of at most CHUNK tokens, none smaller than MIN_EVAL (when there are that many)."""
    if n <= CHUNK:
        return [(0, n)] if n else []
    count = -(-n // CHUNK)
    size = -(-n // count)  # even batches: the last one is never a runt
    return [(k, min(n, k + size)) for k in range(0, n, size)]


def _common(a, b) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i
