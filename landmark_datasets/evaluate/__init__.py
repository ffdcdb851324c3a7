"""The ``evaluate`` stage: baseline classifiers on the published split.

Reads ``data/dataset/``; writes ``reports/evaluation.json`` (the metric sweeps compare) and
``reports/label_review.csv`` (the ranked label-review queue): :mod:`.evaluate`.
"""
