"""research_lib — the DI evidence workbench library.

Loads children's survey responses and placement records, validates them
without losing a row, scores, analyses and publishes disclosure-controlled
figures for the notebooks and reports.

The flow: ``load_codebook`` → ``load_responses`` (``LoadResult.valid`` /
``.rejected``) → ``score_responses`` → analyses → disclosure → reports.
"""

from research_lib.errors import CodebookError, InputError
from research_lib.io.codebook import Codebook, load_codebook
from research_lib.io.surveys import LoadResult, load_responses, validate_responses
from research_lib.stats.scoring import score_responses, scored_table

__all__ = [
    "Codebook",
    "CodebookError",
    "InputError",
    "LoadResult",
    "load_codebook",
    "load_responses",
    "score_responses",
    "scored_table",
    "validate_responses",
]

from research_lib.version import __version__ as __version__  # noqa: E402 - re-exported
