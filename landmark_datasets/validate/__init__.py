"""The ``validate`` stage: Great Expectations suites generated from the schema.

Reads ``data/interim/preprocess/``; writes ``reports/validation.json`` and, when every
expectation holds, ``data/interim/validate/``; a violation fails the build (:mod:`.validate`).
"""
