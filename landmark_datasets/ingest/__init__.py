"""The ``scan`` and ``ingest`` stages: what is in the raw folder, and what each file is.

Reads ``data/raw/`` (and a manifest CSV, if there is one); writes ``data/interim/scan/`` (the
listing: paths and sha256, :mod:`.listing`) and ``data/interim/ingest/`` (items, frames to
extract, ledger: :mod:`.ingest`, whose columns and readers are :mod:`.inventory`). Labels,
groups and time ranges come from the folder layout or the manifest (:mod:`.layout`,
:mod:`.manifest`); every file is decoded once to check it (:mod:`.probe`, over :mod:`.media`,
which extract and the review page decode with too). With extract, the only package that
opens pixels.
"""
