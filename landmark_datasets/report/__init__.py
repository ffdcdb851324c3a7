"""The ``report`` and ``card`` stages: what a reviewer and a dataset's user read.

Reads the published dataset, the ledgers and the reports before it. :mod:`.report`
gathers the facts and writes ``reports/`` (metrics, DVC plots); :mod:`.quality` is the text of
``reports/quality.md`` and :mod:`.figures` its plots; :mod:`.card` writes the dataset card
(``data/dataset/README.md``) and ``croissant.json``.
"""
