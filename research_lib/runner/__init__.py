"""``runner`` — runs studies: registry, parameter checks, execution, batch, CLI.

Runs the parameterised notebooks with Papermill (one run, or a batch over
oblasts), writes each run folder atomically with its provenance, rebuilds the
index, and is driven by the command line (``python -m research_lib``).

The top layer: may import every other layer; nothing imports ``runner``.
"""
