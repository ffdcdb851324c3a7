"""The ``preprocess`` stage: confidence and geometry filters, gaps, normalization.

Reads ``data/interim/extract/``; writes ``data/interim/preprocess/`` (tables, the ledger of
rejected rows, gap statistics). :mod:`.preprocess` runs a table through :mod:`.filters` (which
rows are rejected, and why), :mod:`.gaps` (short video gaps filled and flagged) and
:mod:`.normalize` (the sweepable schemes); :mod:`.holistic` does the same per part of a
holistic row.
"""
