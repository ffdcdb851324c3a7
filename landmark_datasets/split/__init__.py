"""The ``split`` stage: train and test by a salted hash of each group; publishes the dataset.

Reads ``data/interim/validate/``, the ledgers and the matched review decisions; writes
``data/dataset/`` (each table as CSV and Parquet, and the public ledger): :mod:`.split`.
"""
