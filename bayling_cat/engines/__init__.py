"""Engines: one module per backend behind the interface in ``base.py``.

``ctranslate2.py`` is the CTranslate2 engine (batches, CUDA, CPU int8). Nothing above this package knows
which backend runs.
"""
