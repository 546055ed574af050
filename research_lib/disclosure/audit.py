"""The built-in intruder: try to recover suppressed counts from every report of a batch.

Reports are published together (the country and 28 oblasts, every table with its
margins), so a count hidden in one report may follow from the others. This
module does what an intruder holding all ``published.csv`` files of a folder
would do: rebuild the linked count tables and, by linear programming, find the
lowest and highest value each suppressed count can take.

A suppressed count is **disclosed** when

* it is recovered exactly and is not zero (lower bound = upper bound > 0), or
* it is shown to lie between 1 and ``min_cell`` - 1 (a small group exists).

An exact zero is not listed (nobody is disclosed by "no child"), but a hidden
zero gives no protection: it is a variable like any other and may pin its
neighbours.

The same model is used by :func:`research_lib.disclosure.linked.protect_linked` to
choose the suppression pattern (primary, complementary, then "suppress further
until this audit recovers nothing").

Model
-----
Every row of every ``published.csv`` is a cell ``(study, scope, table, group,
measure)`` whose ``n`` is known (shown) or a non-negative unknown (suppressed).
The links (see :data:`RULES`) are

* **partitions** - within a report, the groups of a table add up to its ``all``
  row (exactly for the tables in ``exact_partitions``, otherwise at most);
* **national margins** - for the tables in ``additive``, the national report's
  cell equals the sum of the 28 oblast reports' cells (at least that sum when
  some oblast reports are missing);
* **copies** - a table whose groups are oblast codes is the same table in every
  report, and a table in ``same_n_across_measures`` has one ``n`` per group;
* **bounds** - every published ``n`` of a group is a lower bound of that group's
  count (a mean of 9 children bounds the group's count from below), and the
  ``all`` row of each ``means_by_*`` table is the same number.

Bounds are computed with :func:`scipy.optimize.linprog` (HiGHS), one small
programme per connected set of linked cells, and rounded to whole children.

* **children counted in several oblasts** - the placement tables whose ``n`` is
  the children of a scope's first stays in a type (``subadditive``: time in
  care, exits, the entry-cohort tables) are *not* additive: a child who stayed
  in two oblasts counts in both and once nationally, so the national cell is
  only at most the oblasts' sum;
* **sums within a report** - ``same_n_tables`` share ``n`` (the two cohort
  tables) and ``sums`` make a group's ``n`` the sum (exactly, or at least) of
  another table's cells of that group (cohorts add up to ``time_in_care``'s n;
  exits by reason to at most it).

Limits: means, shares and differences are not inverted (a mean differenced
across waves or between reports is not used to bound a count); sums over time
used as a model's base (the ``n`` of the time-series tables) are not linked to
the yearly counts; the oblast indicators' latest-year entries are not linked to
``entries_by_year``; a child-counting national ``n`` is not used as a lower
bound of each oblast's; and only the rules below are known to the intruder.
See the README, "Disclosure audit".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

from research_lib.disclosure.suppression import DEFAULT_MIN_CELL, TOTAL_GROUP, read_published
from research_lib.io.oblasts import NATIONAL, load_oblasts, resolve_scope

__all__ = [
    "RULES",
    "LinkRules",
    "build_model",
    "Disclosure",
    "AuditResult",
    "read_batch",
    "cell_bounds",
    "exact_cells",
    "audit_cells",
    "disclosed_bounds",
    "audit_folder",
]

CELL_COLUMNS: tuple[str, ...] = ("study", "scope", "table", "group", "measure", "n", "hidden")


@dataclass(frozen=True)
class LinkRules:
    """How the tables of the studies are linked (what the intruder knows about them)."""

    #: Tables whose groups add up exactly to the ``all`` row of the same measure.
    exact_partitions: frozenset[str]
    #: Tables whose national cell is the sum of the oblast reports' cells.
    additive: frozenset[str]
    #: Tables whose ``n`` is the same for every measure of a group.
    same_n_across_measures: frozenset[str]
    #: ``(table, parent, same_measure)``: a row's ``n`` is at most the parent's ``n`` of
    #: the same report and group (and measure when ``same_measure``).
    bounds: tuple[tuple[str, str, bool], ...]
    #: Tables whose ``all`` rows (per measure) are one number.
    same_total: tuple[str, ...]
    #: Tables that are never a partition (no ``all`` row links their groups).
    not_partitions: frozenset[str] = frozenset()
    #: The scopes whose reports add up to the national one (default: the 28 oblast codes).
    scopes: frozenset[str] | None = None
    #: Tables whose national cell is at most the sum of the oblast cells (a child
    #: counted in every oblast where it stayed, once in the country).
    subadditive: frozenset[str] = frozenset()
    #: ``(table, other)``: the same ``n`` for the same report, group and measure.
    same_n_tables: tuple[tuple[str, str], ...] = ()
    #: ``(total, parts, exact)``: within a report and group, the ``n`` of ``total``
    #: equals (``exact``) or is at least the sum of ``parts`` over its measures.
    sums: tuple[tuple[str, str, bool], ...] = ()

    def families(self) -> dict[str, str]:
        """Tables linked within a report by :attr:`same_n_tables` or exact :attr:`sums`."""
        family: dict[str, str] = {}
        exact = [(a, b) for a, b, is_exact in self.sums if is_exact]
        for a, b in (*self.same_n_tables, *exact):
            fa, fb = family.get(a, a), family.get(b, b)
            for table, f in list(family.items()):
                if f == fb:
                    family[table] = fa
            family[a], family[b] = fa, fa
        return family


_MEANS = ("means_by_placement_type", "means_by_age_band", "means_by_sex")

#: The links of the quality-of-life and placement studies.
RULES = LinkRules(
    exact_partitions=frozenset(
        {
            "sample",
            "means_by_placement_type",
            "low_by_placement_type",
            "entries_by_year",
            "in_care_by_year",
            "transfers_by_year",
            "reentries_by_year",
            "family_based_share",
        }
    ),
    additive=frozenset(
        {
            "sample",
            *_MEANS,
            "low_by_placement_type",
            "entries_by_year",
            "in_care_by_year",
            "transfers_by_year",
            "reentries_by_year",
            "entries_0_3_residential_by_year",
        }
    ),
    same_n_across_measures=frozenset(
        {"time_in_care", "its_institution_entries", "its_residential_entries_0_3"}
    ),
    bounds=(
        ("means_by_placement_type", "sample", False),
        ("means_by_age_band", "sample", False),
        ("means_by_sex", "sample", False),
        ("low_by_placement_type", "means_by_placement_type", True),
        ("difference_vs_reference", "means_by_placement_type", True),
        ("difference_p_adjusted", "means_by_placement_type", True),
        ("wave_change", "means_by_placement_type", True),
    ),
    same_total=_MEANS,
    not_partitions=frozenset({"item_rest"}),
    subadditive=frozenset(
        {"time_in_care", "median_time_by_cohort", "reunified_12m_by_cohort", "exits_within_12m"}
    ),
    same_n_tables=(("median_time_by_cohort", "reunified_12m_by_cohort"),),
    sums=(
        ("time_in_care", "median_time_by_cohort", True),
        ("time_in_care", "exits_within_12m", False),
    ),
)


@dataclass(frozen=True)
class Disclosure:
    """A suppressed count the intruder pins down."""

    study: str
    scope: str
    table: str
    group: str
    measure: str
    lower: int
    upper: int

    @property
    def kind(self) -> str:
        """``exact`` (recovered) or ``small`` (between 1 and ``min_cell`` - 1)."""
        return "exact" if self.lower == self.upper else "small"

    def __str__(self) -> str:
        where = f"{self.study}/{self.scope}: {self.table} | {self.group} | {self.measure}"
        if self.kind == "exact":
            return f"{where}: recovered exactly"
        return f"{where}: shown to be between {self.lower} and {self.upper}"


@dataclass
class AuditResult:
    """What the intruder found in a folder of reports."""

    disclosures: list[Disclosure]
    files: int
    hidden: int
    notes: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """True when nothing is disclosed."""
        return not self.disclosures

    def summary(self) -> str:
        """A plain-text report (no disclosive value is printed: only where)."""
        head = f"audit: {self.files} published.csv file(s), {self.hidden} suppressed count(s); " + (
            "nothing disclosed." if self.clean else f"{len(self.disclosures)} disclosed count(s):"
        )
        lines = [head, *(f"  - {d}" for d in self.disclosures)]
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


# ----------------------------------------------------------------------------- reading


def _scope_of(folder_name: str) -> str | None:
    try:
        return resolve_scope(folder_name)
    except ValueError:
        return None


def read_batch(folder: str | PathLike[str], min_cell: int = DEFAULT_MIN_CELL) -> pd.DataFrame:
    """Every ``published.csv`` under ``folder`` as one frame of cells.

    The study is the name of the folder above the report's folder and the scope
    is read from the report's folder name (``all`` or an oblast slug):
    ``<folder>/<study>/<scope>/published.csv``. Files in folders that name no
    scope are skipped.

    Returns
    -------
    DataFrame
        Columns ``study, scope, table, group, measure, n, hidden``.
    """
    frames = []
    for path in sorted(Path(folder).rglob("published.csv")):
        scope = _scope_of(path.parent.name)
        if scope is None:
            continue
        published = read_published(path, min_cell)
        frames.append(
            pd.DataFrame(
                {
                    "study": path.parent.parent.name,
                    "scope": scope,
                    "table": published["table"].astype(str),
                    "group": published["group"].astype(str),
                    "measure": published["measure"].astype(str),
                    "n": pd.to_numeric(published["n"], errors="coerce").astype("float64"),
                    "hidden": published["suppressed"].astype(bool),
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=list(CELL_COLUMNS))
    return pd.concat(frames, ignore_index=True)


# ----------------------------------------------------------------------------- the model


@dataclass
class _Model:
    cells: pd.DataFrame  #: with a fresh RangeIndex; synthetic cells appended
    equalities: list[tuple[dict[int, float], bool]]  #: (coefficients, relaxable)
    inequalities: list[dict[int, float]]  #: sum(coef * n) <= 0
    bounds: list[dict[int, float]]  #: child - parent <= 0 (a figure rests on its group)
    notes: list[str]


def _oblast_codes() -> set[str]:
    return set(load_oblasts().index)


def build_model(cells: pd.DataFrame, rules: LinkRules = RULES) -> _Model:
    """Linear relations between the cells' ``n`` (equalities and ``<= 0`` inequalities)."""
    cells = cells.loc[:, list(CELL_COLUMNS)].reset_index(drop=True).copy()
    cells["hidden"] = cells["hidden"].astype(bool)
    cells["n"] = pd.to_numeric(cells["n"], errors="coerce").astype("float64")
    cells.loc[cells["n"].isna(), "hidden"] = True
    codes = set(rules.scopes) if rules.scopes is not None else _oblast_codes()
    notes: list[str] = []
    eqs: list[tuple[dict[int, float], bool]] = []
    ineqs: list[dict[int, float]] = []
    bounds: list[dict[int, float]] = []
    extra: list[dict[str, object]] = []

    def new_cell(study, scope, table, group, measure) -> int:
        extra.append(
            {
                "study": study,
                "scope": scope,
                "table": table,
                "group": group,
                "measure": measure,
                "n": np.nan,
                "hidden": True,
            }
        )
        return len(cells) + len(extra) - 1

    oblast_grouped = set(cells.loc[cells["group"].isin(codes), "table"])
    # partitions: groups add up to the all row (per report, table, measure)
    for (_, _, table, _), rows in cells.groupby(["study", "scope", "table", "measure"], sort=False):
        if table in rules.not_partitions:
            continue
        total = rows.index[rows["group"] == TOTAL_GROUP]
        parts = rows.index[rows["group"] != TOTAL_GROUP]
        if len(total) != 1 or not len(parts):
            continue
        coef = {int(total[0]): 1.0}
        for i in parts:
            coef[int(i)] = coef.get(int(i), 0.0) - 1.0
        if table in rules.exact_partitions:
            eqs.append((coef, True))
        else:
            ineqs.append({k: -v for k, v in coef.items()})

    # national margins: national = sum of oblast reports
    linked = rules.additive | rules.subadditive
    additive = cells[cells["table"].isin(linked) & ~cells["table"].isin(oblast_grouped)]
    for (study, table, group, measure), rows in additive.groupby(
        ["study", "table", "group", "measure"], sort=False
    ):
        national = rows.index[rows["scope"] == NATIONAL]
        local = rows.index[rows["scope"] != NATIONAL]
        if len(national) != 1 or not len(local):
            continue
        scopes_present = set(
            cells.loc[(cells["study"] == study) & (cells["table"] == table), "scope"]
        )
        missing = sorted(codes - scopes_present)
        coef = {int(national[0]): 1.0}
        for i in local:
            coef[int(i)] = -1.0
        # an oblast report that exists but lacks this cell: an unknown count
        for scope in sorted(scopes_present - {NATIONAL} - set(rows["scope"])):
            coef[new_cell(study, scope, table, group, measure)] = -1.0
        if table in rules.subadditive:  # national <= sum of the oblasts present
            if not missing:
                ineqs.append(coef)
        elif missing:
            ineqs.append({k: -v for k, v in coef.items()})
        else:
            eqs.append((coef, True))

    # copies: an oblast-grouped table is one table in every report of a study
    copies = cells[cells["table"].isin(oblast_grouped)]
    for _, rows in copies.groupby(["study", "table", "group", "measure"], sort=False):
        first = int(rows.index[0])
        for i in rows.index[1:]:
            eqs.append(({first: 1.0, int(i): -1.0}, False))
    same_n = cells[cells["table"].isin(rules.same_n_across_measures)]
    for _, rows in same_n.groupby(["study", "scope", "table", "group"], sort=False):
        first = int(rows.index[0])
        for i in rows.index[1:]:
            eqs.append(({first: 1.0, int(i): -1.0}, False))
    for _, rows in cells[
        cells["table"].isin(rules.same_total) & (cells["group"] == TOTAL_GROUP)
    ].groupby(["study", "scope", "measure"], sort=False):
        first = int(rows.index[0])
        for i in rows.index[1:]:
            eqs.append(({first: 1.0, int(i): -1.0}, False))

    # tables of one report with the same n, and a group's n as the sum of another table's
    keyed = cells.set_index(["study", "scope", "table", "group", "measure"]).index
    position = pd.Series(np.arange(len(cells)), index=keyed)
    position = position[~position.index.duplicated()]
    for table, other in rules.same_n_tables:
        rows = cells[cells["table"] == table]
        for i, (s, sc, g, m) in zip(
            rows.index,
            rows[["study", "scope", "group", "measure"]].itertuples(index=False),
            strict=True,
        ):
            j = position.get((s, sc, other, g, m))
            if j is not None:
                eqs.append(({int(i): 1.0, int(j): -1.0}, False))
    for total, parts, exact in rules.sums:
        totals = cells[cells["table"] == total].drop_duplicates(["study", "scope", "group"])
        pieces = cells[cells["table"] == parts].groupby(["study", "scope", "group"]).groups
        for i, key in zip(
            totals.index,
            totals[["study", "scope", "group"]].itertuples(index=False, name=None),
            strict=True,
        ):
            members = pieces.get(key)
            if members is None:
                continue
            coef = {int(i): 1.0}
            for j in members:
                coef[int(j)] = -1.0
            if exact:
                eqs.append((coef, True))
            else:
                ineqs.append({k: -v for k, v in coef.items()})

    # bounds: a figure of a group rests on at most the group's count
    for table, parent, same_measure in rules.bounds:
        children = cells[cells["table"] == table]
        parents = cells[cells["table"] == parent]
        if children.empty or parents.empty:
            continue
        if same_measure:
            lookup = {
                (s, sc, g, m): i
                for i, s, sc, g, m in zip(
                    parents.index,
                    parents["study"],
                    parents["scope"],
                    parents["group"],
                    parents["measure"],
                    strict=True,
                )
            }
        else:
            lookup = {
                (s, sc, g): i
                for i, s, sc, g in zip(
                    parents.index, parents["study"], parents["scope"], parents["group"], strict=True
                )
            }
        for i, s, sc, g, m in zip(
            children.index,
            children["study"],
            children["scope"],
            children["group"],
            children["measure"],
            strict=True,
        ):
            j = lookup.get((s, sc, g, m) if same_measure else (s, sc, g))
            if j is not None:
                bounds.append({int(i): 1.0, int(j): -1.0})

    if extra:
        cells = pd.concat([cells, pd.DataFrame(extra)], ignore_index=True)
    return _Model(cells=cells, equalities=eqs, inequalities=ineqs, bounds=bounds, notes=notes)


def _components(hidden: np.ndarray, relations: Iterable[dict[int, float]]) -> list[list[int]]:
    """Sets of hidden cells linked through at least one relation (union-find)."""
    parent = {int(i): int(i) for i in np.flatnonzero(hidden)}

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for coef in relations:
        members = [i for i in coef if i in parent]
        for a, b in zip(members, members[1:], strict=False):
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[ra] = rb
    groups: dict[int, list[int]] = {}
    for i in parent:
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


def _linked_sets(model: _Model, hidden: np.ndarray):
    """Components of hidden cells with their equalities and inequalities.

    A bound (a figure's ``n`` at most its group's count) is used when one side is
    shown; between two hidden cells it is left out, so that the tables of one
    report do not fuse into one large programme (see the module notes).
    """
    usable = [b for b in model.bounds if sum(bool(hidden[c]) for c in b) == 1]
    inequalities = model.inequalities + usable
    relations = [coef for coef, _ in model.equalities] + inequalities
    components = _components(hidden, relations)
    component_of = {cell: k for k, members in enumerate(components) for cell in members}
    eqs: list[list[tuple[dict[int, float], bool]]] = [[] for _ in components]
    ineqs: list[list[dict[int, float]]] = [[] for _ in components]
    for coef, relaxable in model.equalities:
        k = next((component_of[c] for c in coef if c in component_of), None)
        if k is not None:
            eqs[k].append((coef, relaxable))
    for coef in inequalities:
        k = next((component_of[c] for c in coef if c in component_of), None)
        if k is not None:
            ineqs[k].append(coef)
    return components, eqs, ineqs


def _state(cells: pd.DataFrame, rules: LinkRules, model: _Model | None) -> _Model:
    """The model of ``cells``; with ``model`` (built once on the same rows) only n/hidden change."""
    if model is None:
        return build_model(cells, rules)
    frame = model.cells.copy()
    size = len(cells)
    n = pd.to_numeric(cells["n"], errors="coerce").to_numpy(dtype="float64")
    frame.loc[: size - 1, "n"] = n
    frame.loc[: size - 1, "hidden"] = cells["hidden"].to_numpy(dtype=bool) | np.isnan(n)
    return _Model(frame, model.equalities, model.inequalities, model.bounds, model.notes)


def exact_cells(
    cells: pd.DataFrame, rules: LinkRules = RULES, model: _Model | None = None
) -> np.ndarray:
    """Positions (in ``cells``) of hidden cells the equalities alone determine.

    Fast linear algebra (no programme): a hidden cell is determined when its
    unit vector lies in the row space of the equalities restricted to the
    hidden cells of its linked set. Bounds are not used, so this finds a subset
    of what :func:`cell_bounds` finds. ``model`` (from :func:`build_model` on the same
    rows) saves rebuilding the links when only the pattern changed.
    """
    model = _state(cells, rules, model)
    hidden = model.cells["hidden"].to_numpy(dtype=bool)
    components, eqs, _ = _linked_sets(model, hidden)
    found: list[int] = []
    for component, relations in zip(components, eqs, strict=True):
        if not relations:
            continue
        index_of = {cell: k for k, cell in enumerate(component)}
        a = np.zeros((len(relations), len(component)))
        for r, (coef, _) in enumerate(relations):
            for cell, value in coef.items():
                if cell in index_of:
                    a[r, index_of[cell]] += value
        _, singular, vt = np.linalg.svd(a)
        rank = int((singular > 1e-9 * max(1.0, singular.max(initial=0.0))).sum())
        null = vt[rank:]
        determined = (
            np.all(np.abs(null) < 1e-9, axis=0) if len(null) else np.ones(len(component), bool)
        )
        found += [cell for cell, flag in zip(component, determined, strict=True) if flag]
    found_array = np.array(sorted(found), dtype=int)
    return found_array[found_array < len(cells)]


def cell_bounds(
    cells: pd.DataFrame,
    rules: LinkRules = RULES,
    only: np.ndarray | None = None,
    model: _Model | None = None,
    stop_at_zero: bool = False,
) -> pd.DataFrame:
    """Lowest and highest value of every hidden cell given everything shown.

    Parameters
    ----------
    cells : DataFrame
        Columns ``study, scope, table, group, measure, n, hidden`` (see
        :func:`read_batch`). The ``n`` of hidden cells is ignored.
    rules : LinkRules
        What links the tables (default :data:`RULES`).

    Returns
    -------
    DataFrame
        The hidden cells (including cells a report lacks although a margin
        needs them) with ``lower`` and ``upper`` (floats; ``inf`` when
        unbounded) and ``relaxed`` (True when the component's equalities did not
        hold and were relaxed to inequalities).

    only : array of bool, optional
        Solve only for these rows of ``cells``; the other hidden cells get NaN bounds.
    model : optional
        The links built once on the same rows (see :func:`exact_cells`).
    stop_at_zero : bool, default False
        Leave ``upper`` NaN where ``lower`` is 0 (enough to decide disclosure).
    """
    model = _state(cells, rules, model)
    frame = model.cells
    hidden = frame["hidden"].to_numpy(dtype=bool)
    known = np.where(hidden, 0.0, frame["n"].to_numpy(dtype="float64"))
    lower = np.full(len(frame), np.nan)
    upper = np.full(len(frame), np.nan)
    relaxed = np.zeros(len(frame), dtype=bool)
    components, eqs, ineqs = _linked_sets(model, hidden)
    wanted = np.ones(len(frame), dtype=bool)
    if only is not None:
        wanted[: len(only)] = np.asarray(only, dtype=bool)
        wanted[len(only) :] = False
    for k, component in enumerate(components):
        if not wanted[component].any():
            continue
        low, high, was_relaxed = _component_bounds(
            component, eqs[k], ineqs[k], known, wanted[component], stop_at_zero
        )
        lower[component] = low
        upper[component] = high
        relaxed[component] = was_relaxed
    out = frame.loc[hidden, ["study", "scope", "table", "group", "measure"]].copy()
    out["lower"] = lower[hidden]
    out["upper"] = upper[hidden]
    out["relaxed"] = relaxed[hidden]
    return out


def _matrix(
    relations: Sequence[dict[int, float]], index_of: dict[int, int], known: np.ndarray
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """``A x (op) b`` for the hidden cells ``index_of`` (shown cells moved to ``b``)."""
    if not relations:
        return None, None
    a = np.zeros((len(relations), len(index_of)))
    b = np.zeros(len(relations))
    for r, coef in enumerate(relations):
        for cell, value in coef.items():
            if cell in index_of:
                a[r, index_of[cell]] += value
            else:
                b[r] -= value * known[cell]
    return a, b


def _component_bounds(
    component: list[int],
    equalities: list[tuple[dict[int, float], bool]],
    inequalities: list[dict[int, float]],
    known: np.ndarray,
    wanted: np.ndarray | None = None,
    stop_at_zero: bool = False,
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Lowest and highest value of each hidden cell of one linked set (two LPs per cell).

    When the equalities cannot all hold (the intruder's assumptions are wrong for
    these tables), the relaxable ones are used as ``<=`` only (``was_relaxed``).
    Returns NaN bounds when even that is infeasible.
    """
    from scipy.optimize import linprog

    index_of = {cell: k for k, cell in enumerate(component)}
    size = len(component)

    def programme(eq_rel, ub_rel):
        a_eq, b_eq = _matrix(eq_rel, index_of, known)
        a_ub, b_ub = _matrix(ub_rel, index_of, known)
        return dict(A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")

    if size == 1:
        single = _single_bounds(component[0], equalities, inequalities, known)
        if single is not None:
            return np.array([single[0]]), np.array([single[1]]), False
    problem = programme([c for c, _ in equalities], inequalities)
    was_relaxed = False
    if linprog(np.zeros(size), **problem).status == 2:  # infeasible as assumed
        was_relaxed = True
        problem = programme(
            [c for c, r in equalities if not r],
            inequalities + [{k: -v for k, v in c.items()} for c, r in equalities if r],
        )
        if linprog(np.zeros(size), **problem).status == 2:
            return np.full(size, np.nan), np.full(size, np.nan), True
    lower, upper = np.full(size, np.nan), np.full(size, np.nan)
    for k in range(size):
        if wanted is not None and not wanted[k]:
            continue
        c = np.zeros(size)
        c[k] = 1.0
        low = linprog(c, **problem)
        lower[k] = low.fun if low.status == 0 else 0.0
        if stop_at_zero and lower[k] < 0.5:
            continue
        high = linprog(-c, **problem)
        upper[k] = -high.fun if high.status == 0 else math.inf
    return lower, upper, was_relaxed


def _single_bounds(
    cell: int,
    equalities: list[tuple[dict[int, float], bool]],
    inequalities: list[dict[int, float]],
    known: np.ndarray,
) -> tuple[float, float] | None:
    """Bounds of a lone hidden cell without a programme (None when the relations disagree)."""
    low, high = 0.0, math.inf
    fixed: list[float] = []
    for coef, _ in equalities:
        a = coef.get(cell, 0.0)
        rest = sum(v * known[c] for c, v in coef.items() if c != cell)
        if a:
            fixed.append(-rest / a)
    for coef in inequalities:
        a = coef.get(cell, 0.0)
        rest = sum(v * known[c] for c, v in coef.items() if c != cell)
        if a > 0:
            high = min(high, -rest / a)
        elif a < 0:
            low = max(low, -rest / a)
    if fixed:
        if max(fixed) - min(fixed) > 1e-6 or not low - 1e-6 <= fixed[0] <= high + 1e-6:
            return None
        return fixed[0], fixed[0]
    if low > high + 1e-6:
        return None
    return low, high


def disclosed_bounds(bounds: pd.DataFrame, min_cell: int = DEFAULT_MIN_CELL) -> pd.DataFrame:
    """The rows of :func:`cell_bounds` that disclose: exact and non-zero, or within 1..min_cell-1.

    ``lower`` and ``upper`` are rounded inward to whole children.
    """
    low = np.ceil(bounds["lower"].to_numpy(dtype="float64") - 1e-6)
    high = np.floor(bounds["upper"].to_numpy(dtype="float64") + 1e-6)
    exact = (low == high) & (low > 0)
    small = (low >= 1) & (high <= min_cell - 1)
    out = bounds.loc[exact | small].copy()
    out["lower"] = low[exact | small].astype(int)
    out["upper"] = high[exact | small].astype(int)
    return out


def audit_cells(
    cells: pd.DataFrame, min_cell: int = DEFAULT_MIN_CELL, rules: LinkRules = RULES
) -> list[Disclosure]:
    """The hidden cells an intruder recovers exactly (non-zero) or bounds within 1..min_cell-1.

    Examples
    --------
    A two-by-two table with its margins, one cell hidden, leaks by subtraction:

    >>> import pandas as pd
    >>> cells = pd.DataFrame({"study": "s", "scope": "all", "table": "sample",
    ...     "group": ["a", "b", "all"], "measure": "children",
    ...     "n": [3, 9, 12], "hidden": [True, False, False]})
    >>> [str(d) for d in audit_cells(cells)]
    ['s/all: sample | a | children: recovered exactly']
    """
    found = disclosed_bounds(cell_bounds(cells, rules), min_cell)
    return [
        Disclosure(
            str(r.study),
            str(r.scope),
            str(r.table),
            str(r.group),
            str(r.measure),
            int(r.lower),
            int(r.upper),
        )
        for r in found.itertuples()
    ]


def audit_folder(
    folder: str | PathLike[str], min_cell: int = DEFAULT_MIN_CELL, rules: LinkRules = RULES
) -> AuditResult:
    """Audit every ``published.csv`` under ``folder`` (see the module notes)."""
    cells = read_batch(folder, min_cell)
    files = int(cells[["study", "scope"]].drop_duplicates().shape[0]) if len(cells) else 0
    if cells.empty:
        return AuditResult([], 0, 0, ["no published.csv found"])
    bounds = cell_bounds(cells, rules)
    found = audit_cells(cells, min_cell, rules)
    notes = []
    if bounds["relaxed"].any():
        notes.append(
            f"{int(bounds['relaxed'].sum())} hidden count(s) sit in tables that do not add up "
            "as assumed; their margins were used as upper bounds only"
        )
    return AuditResult(found, files, int(cells["hidden"].sum()), notes)
