"""``stats`` — statistical methods, one module per family, tidy frames in and out.

Scoring, psychometrics, descriptives, group comparisons, interrupted time
series, time in care, formal-care indicators, funnels, projections,
demographic interpolation. Each estimate carries its n, CI and method.
``stats`` knows nothing of reports and does not decide what may be shown.

May import: ``io`` (canonical codes, loaders' tables), ``errors``, ``paths``
and other ``stats`` modules.
"""
