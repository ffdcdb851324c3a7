"""What every command-line entry point shares: quiet logging and one-line errors.

The stages (``python -m stages.<name>``) and the library's own commands (``sample``, the review
page) call :func:`setup_logging` first and hand their ``main`` to :func:`run_stage`, so a
:class:`..UserError` ends the run with one line and exit 1, never a traceback.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable


def run_stage(main: Callable[[], None]) -> None:
    """Run a stage's ``main``; a :class:`stages.UserError` ends it with its message only."""
    from landmark_datasets import UserError

    try:
        main()
    except UserError as err:
        spec = main.__globals__.get("__spec__")  # "stages.ingest" under `python -m`
        stage = (spec.name if spec else main.__module__).rpartition(".")[2]
        sys.stderr.write(f"{stage}: error: {err}\n")
        raise SystemExit(1) from None


def setup_logging(verbose: bool = False) -> None:
    """Quiet, one-line-per-event logging on stderr for the stage entry points."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(name)s: %(message)s",
    )
    for noisy in ("matplotlib", "great_expectations", "PIL", "numexpr", "distributed"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
