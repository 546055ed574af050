"""``demo`` — generators of the synthetic demo data (nothing here is real).

A survey with planted, documented differences (``survey``) and placement
episodes with a planted reform effect (``episodes``).

May import: ``io`` (codebooks, vocabularies, oblasts) only.
"""
