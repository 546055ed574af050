"""From the codebook to the field and back.

The codebook is the single source of every way of collecting the survey:

* :func:`write_xlsform` — a KoboToolbox / ODK form (XLSForm);
* :func:`write_paper` — a printable A4 questionnaire in Bulgarian (HTML);
* :func:`write_entry_template` — a spreadsheet for typing in paper answers;
* :func:`normalise_export` — reads Kobo/ODK exports of that form ("XML values"
  or "labels") back into the columns and codes the survey loader expects
  (:func:`research_lib.io.surveys.load_responses` calls it).

Command line: ``python -m research_lib form CODEBOOK --to xlsform|paper|entry OUT``.
"""

from research_lib.fielding.entry import write_entry_template
from research_lib.fielding.paper import write_paper
from research_lib.fielding.xlsform import write_xlsform
from research_lib.io.form import Choice, Question, Section, build_form
from research_lib.io.kobo import normalise_export

__all__ = [
    "Choice",
    "Question",
    "Section",
    "build_form",
    "normalise_export",
    "write_entry_template",
    "write_paper",
    "write_xlsform",
]
