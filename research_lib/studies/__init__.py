"""``studies`` — one folder per study: its pipeline, its declared figures, its words.

* ``qol`` — children's quality of life by placement type (survey);
* ``placements`` — entries, stocks, rates and time in care (episodes or
  published counts);
* ``brief`` — the evidence-graded policy brief, read from the other studies'
  ``published.csv`` only.

A study never reaches into another study (the brief reads files, not
modules). May import: ``io``, ``stats``, ``disclosure`` and ``render``.
"""
