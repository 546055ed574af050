"""``runner`` — runs studies: registry, parameter checks, execution, batch, CLI.

Runs the parameterised notebooks with Papermill (one run, or a batch over
oblasts), writes each run folder atomically with its provenance, rebuilds the
index, and is driven by the command line (``python -m research_lib``). One
module per responsibility, each importing only those listed before it:
``registry`` (the studies) · ``kernels`` (kernel, memory cap, warm kernels) ·
``outputs`` / ``provenance`` · ``parameters`` · ``index`` (builds
``reports/index.html`` with :mod:`research_lib.render.index_page`) · ``execute``
(one run) · ``batch`` · ``runs`` (the API: their public names) · ``cli``.

The top layer: may import every other layer; nothing imports ``runner``.
"""
