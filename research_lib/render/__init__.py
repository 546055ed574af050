"""``render`` — what a reader sees: labels (BG/EN), report pieces, pages.

Labels and reader-facing words (``labels`` over ``labels.yaml``), escaping
and sanitising of text from data (``markup``), plots, number formats and
HTML export (``reporting``), the children's page and the index page.

May import: ``io``, ``stats`` and ``disclosure``. Never imports ``studies``
or ``runner``.
"""
