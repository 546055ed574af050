"""``disclosure`` — the only layer that decides what may be shown.

Suppression of small cells, one table or a batch of linked tables at a time
(``suppression``), the built-in intruder that tries to recover hidden counts
(``audit``), redaction and selection of children's own words (``voices``), and
the one function that turns a study's declared figures into ``published.csv``
rows (``figures``).

May import: ``io`` and ``stats``. Never imports ``studies``, ``render`` or
``runner``.
"""
