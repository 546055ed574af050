"""``io`` — everything that reads: files in, canonical tables and rejected lines out.

Readers of every supported format (bounded, encoding-aware), codebooks, the
vocabularies of coded variables, the 28 oblasts, the loader core (``loader``:
``LoadResult``, rejected lines, shared column checks) and the loaders of
surveys, placement episodes, published counts and population tables.

May import: ``research_lib.errors``, ``research_lib.paths`` and other ``io``
modules. Never imports ``stats``, ``disclosure``, ``studies``, ``render`` or
``runner``.
"""
