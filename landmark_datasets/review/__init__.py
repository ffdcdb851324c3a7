"""The review loop: a person's label decisions and the page that records them.

:mod:`.review` reads ``reviews.csv`` (in git) and matches it against a build's tables (the
``review`` stage writes ``data/interim/review/``; split applies what matched).
:mod:`.reviewpage` is the local review page (not a stage): it reads
``reports/label_review.csv`` and the media, and appends decisions to ``reviews.csv``; the
pixels it shows are never written anywhere.
"""
