"""What every stage shares: the schema, typed params, paths, files, the memo cache, the CLI.

Reads ``params.yaml`` (:mod:`.params`, composed from Hydra's ``conf/``) and ``paths.yaml``
(:mod:`.paths`); writes nothing itself. :mod:`.schema` owns column names, landmark names and
order and the ledger's reason codes; :mod:`.storage` writes tables, JSON and text atomically
and deterministically (:mod:`.csvtext` is its fast CSV); :mod:`.cache` is the
content-addressed memo of per-file and per-table results, keyed on the code a stage imports
(:mod:`.imports` reads the import graph); :mod:`.cli` is the entry points' logging and
one-line errors; :mod:`.progress` and :mod:`.cpus` serve long loops. Nothing here imports
another package of the library.
"""
