"""The built-in intruder (research_lib.disclosure.audit) and batch-wide suppression (protect_linked).

Each small linked table below has a known answer worked out by hand in its
docstring (the independent reference): the intruder must find the leak of the
per-table suppression, and the batch-wide pattern must leave nothing to find.
The last tests run a reduced demo batch (the country and three oblasts) through
the library and assert a clean audit.
"""

from __future__ import annotations

import dataclasses
import math

import pandas as pd
import pytest

from research_lib.demo.survey import DEFAULT_SEED, write_demo_data
from research_lib.disclosure.audit import RULES, audit_cells, audit_folder, cell_bounds
from research_lib.disclosure.linked import protect_linked
from research_lib.disclosure.suppression import PUBLISHED_COLUMNS, write_published
from research_lib.runner.cli import main
from research_lib.studies.qol import pipeline as qol

#: Two oblasts "x" and "y" that make up the country "all".
TWO = dataclasses.replace(RULES, scopes=frozenset({"x", "y"}))
#: One report, no oblasts: only the links inside the report.
ONE = dataclasses.replace(RULES, scopes=frozenset())


def sample_cells(counts: dict[str, dict[str, int]], table: str = "sample") -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "study": "s",
                "scope": scope,
                "table": table,
                "group": group,
                "measure": "children",
                "n": n,
            }
            for scope, groups in counts.items()
            for group, n in groups.items()
        ]
    )


def hide(cells: pd.DataFrame, *keys: tuple[str, str]) -> pd.DataFrame:
    flags = [(s, g) in keys for s, g in zip(cells["scope"], cells["group"], strict=True)]
    return cells.assign(hidden=flags)


def found(disclosures) -> set[tuple[str, str, str]]:
    return {(d.scope, d.group, d.kind) for d in disclosures}


# --------------------------------------------------------------------------- two by two

TWO_BY_TWO = {
    "x": {"all": 9, "a": 3, "b": 6},
    "y": {"all": 20, "a": 12, "b": 8},
    "all": {"all": 29, "a": 15, "b": 14},
}


def test_a_lone_hidden_cell_is_recovered_from_its_total():
    """x|a = 9 - 6 = 3."""
    cells = hide(sample_cells(TWO_BY_TWO), ("x", "a"))
    assert found(audit_cells(cells, rules=TWO)) == {("x", "a", "exact")}


def test_two_by_two_leaks_through_the_national_margins():
    """Per-report suppression hides x|a (3) and its complement x|b (6); the national
    margins give x|a = 15 - 12 = 3 and x|b = 14 - 8 = 6."""
    cells = hide(sample_cells(TWO_BY_TWO), ("x", "a"), ("x", "b"))
    assert found(audit_cells(cells, rules=TWO)) == {("x", "a", "exact"), ("x", "b", "exact")}


def test_linked_suppression_closes_the_two_by_two():
    """The four inner cells hidden: x|a = t, x|b = 9 - t, y|a = 15 - t, y|b = 5 + t with
    t = 0..9, so x|a lies anywhere in 0..9."""
    cells = sample_cells(TWO_BY_TWO)
    hidden = protect_linked(cells, rules=TWO)
    assert set(cells.loc[hidden, "scope"] + "|" + cells.loc[hidden, "group"]) == {
        "x|a",
        "x|b",
        "y|a",
        "y|b",
    }
    protected = cells.assign(hidden=hidden)
    assert audit_cells(protected, rules=TWO) == []
    bounds = cell_bounds(protected, rules=TWO).set_index(["scope", "group"])
    assert bounds.loc[("x", "a"), ["lower", "upper"]].tolist() == pytest.approx([0, 9])


# --------------------------------------------------------------------------- zeros

ZERO = {
    "x": {"all": 13, "a": 0, "b": 3, "c": 10},
    "y": {"all": 30, "a": 7, "b": 11, "c": 12},
    "all": {"all": 43, "a": 7, "b": 14, "c": 22},
}


def test_a_hidden_zero_pins_its_neighbour():
    """x hides its zero and its 3: two hidden cells in the line, so per report it looks
    safe. But national a = 7 = y|a, so x|a = 0, and then x|b = 13 - 0 - 10 = 3."""
    cells = hide(sample_cells(ZERO), ("x", "a"), ("x", "b"))
    assert found(audit_cells(cells, rules=TWO)) == {("x", "b", "exact")}


def test_linked_suppression_does_not_count_a_zero_as_protection():
    """The zero is still hidden (as every count below min_cell), but the pattern is
    chosen as if the intruder knew it: x|b gets a non-zero complement."""
    cells = sample_cells(ZERO)
    hidden = protect_linked(cells, rules=TWO)
    protected = cells.assign(hidden=hidden)
    assert hidden[(cells["scope"] == "x") & (cells["group"] == "a")].all()
    assert audit_cells(protected, rules=TWO) == []
    # the zero revealed on purpose: still nothing to find
    known_zero = protected.copy()
    known_zero.loc[(cells["scope"] == "x") & (cells["group"] == "a"), "hidden"] = False
    assert audit_cells(known_zero, rules=TWO) == []


# --------------------------------------------------------------------------- n in other tables


def means_report(hidden_means: set[str]) -> pd.DataFrame:
    """One report: sample a=3, b=9, c=28 (all 40); domain d scored by a=2, b=9, c=28."""
    sample = sample_cells({"all": {"all": 40, "a": 3, "b": 9, "c": 28}})
    means = sample_cells(
        {"all": {"all": 39, "a": 2, "b": 9, "c": 28}}, table="means_by_placement_type"
    ).assign(measure="d")
    cells = pd.concat([sample, means], ignore_index=True)
    cells["hidden"] = [False, True, True, False] + [
        g in hidden_means for g in ["all", "a", "b", "c"]
    ]
    return cells


def test_a_group_n_printed_in_a_means_table_undoes_its_hidden_count():
    """The sample hides a (3) and b (9), but the means table shows b with n = 9: so
    sample b >= 9 and a = 12 - b <= 3; the means partition gives a's n in domain d as
    39 - 9 - 28 = 2 exactly. (That a's count is then at least 2 is a bound between two
    hidden cells, which the audit leaves out: see the module notes.)"""
    cells = means_report(hidden_means={"a"})
    kinds = {(d.table, d.group): d.kind for d in audit_cells(cells, rules=ONE)}
    assert kinds == {("means_by_placement_type", "a"): "exact"}
    bounds = cell_bounds(cells, rules=ONE).set_index(["table", "group"])
    assert bounds.loc[("sample", "a"), ["lower", "upper"]].tolist() == pytest.approx([0, 3])


def test_one_pattern_per_group_hides_the_n_everywhere():
    """With the means table following the sample (parent links), b's mean is hidden too."""
    cells = means_report(hidden_means=set()).drop(columns="hidden")
    parent = [-1, -1, -1, -1, 0, 1, 2, 3]
    hidden = protect_linked(cells, rules=ONE, parent=parent)
    protected = cells.assign(hidden=hidden)
    assert protected.loc[(cells["group"] == "b"), "hidden"].all()
    assert audit_cells(protected, rules=ONE) == []


# --------------------------------------------------------------------------- folders and CLI


def write_report(root, scope: str, cells: pd.DataFrame) -> None:
    rows = cells[cells["scope"] == scope]
    figures = pd.DataFrame(
        {
            "table": rows["table"],
            "group": rows["group"],
            "measure": rows["measure"],
            "n": rows["n"].where(~rows["hidden"]).astype("Int64"),
            "value": rows["n"].where(~rows["hidden"]).astype(float),
            "ci_low": float("nan"),
            "ci_high": float("nan"),
            "suppressed": rows["hidden"],
        }
    )
    write_published(figures.loc[:, list(PUBLISHED_COLUMNS)], root / "s" / scope / "published.csv")


def oblast_cells(protect: bool) -> pd.DataFrame:
    """The country and two real oblasts (Varna BG331, Smolyan BG424) in a 2 x 2."""
    counts = {"BG331": TWO_BY_TWO["x"], "BG424": TWO_BY_TWO["y"], "all": TWO_BY_TWO["all"]}
    cells = sample_cells(counts)
    rules = dataclasses.replace(RULES, scopes=frozenset({"BG331", "BG424"}))
    if protect:
        return cells.assign(hidden=protect_linked(cells, rules=rules))
    return hide(cells, ("BG331", "a"), ("BG331", "b"))


@pytest.mark.parametrize("protect", [False, True])
def test_audit_command_reads_a_folder_of_reports(tmp_path, capsys, protect):
    cells = oblast_cells(protect)
    for scope, folder in (("all", "all"), ("BG331", "varna"), ("BG424", "smolyan")):
        write_report(tmp_path, scope, cells)
        if scope != folder:  # report folders are named by slug; the audit reads the scope
            (tmp_path / "s" / scope).rename(tmp_path / "s" / folder)
    result = audit_folder(tmp_path)
    assert result.files == 3
    code = main(["audit", str(tmp_path)])
    out = capsys.readouterr().out
    if protect:
        # 26 oblasts have no report: national >= sum of the three, nothing is pinned
        assert code == 0 and result.clean and "nothing disclosed" in out
    else:
        # with 26 oblast reports missing the national margin bounds only: national
        # a >= x|a + y|a gives x|a <= 3, x|b <= 14 - 8 = 6 gives x|a >= 3
        assert code == 1
        assert "s/BG331: sample | a | children: recovered exactly" in out
        assert "s/BG331: sample | b | children: recovered exactly" in out


def test_audit_command_refuses_a_folder_without_reports(tmp_path, capsys):
    assert main(["audit", str(tmp_path)]) == 2
    assert "no published.csv" in capsys.readouterr().err


# --------------------------------------------------------------------------- the demo batch


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory, qol_codebook):
    return write_demo_data(tmp_path_factory.mktemp("audit"), qol_codebook, seed=DEFAULT_SEED)[
        "survey"
    ]


REDUCED_BATCH = ("all", "varna", "smolyan", "dobrich")


@pytest.fixture(scope="module")
def reduced_batch(demo_file, qol_codebook, tmp_path_factory):
    """The QoL reports of the country and three oblasts, new and per-report suppression."""
    root = tmp_path_factory.mktemp("reports")
    analyses = {}
    for oblast in REDUCED_BATCH:
        data = qol.prepare(demo_file, qol_codebook, oblast=oblast)
        analysis = qol.analyse(data, n_boot=20)
        analyses[oblast] = analysis
        for name, a in (
            ("new", analysis),
            ("old", dataclasses.replace(analysis, linked=pd.DataFrame())),
        ):
            published = qol.published_figures(a, forbidden=data.load.valid["respondent_id"])
            write_published(published, root / name / "qol" / oblast / "published.csv")
    return root, analyses


def test_reduced_demo_batch_audits_clean(reduced_batch):
    root, _ = reduced_batch
    result = audit_folder(root / "new")
    assert result.files == len(REDUCED_BATCH)
    assert result.clean, result.summary()


def test_per_report_suppression_of_the_same_batch_leaks(reduced_batch):
    """The suppression of each table on its own (before issue 11) is caught by the intruder."""
    root, _ = reduced_batch
    assert not audit_folder(root / "old").clean


def test_a_single_run_gets_the_batch_pattern(reduced_batch):
    """The pattern is chosen on counts of the whole data set: every run builds the same."""
    _, analyses = reduced_batch
    linked = [a.linked for a in analyses.values()]
    for other in linked[1:]:
        pd.testing.assert_frame_equal(other, linked[0])
    varna = qol.report_pattern(analyses["varna"])
    hidden = varna[varna["hidden"]]
    # one pattern per group: a hidden count hides the group's means, shares and differences
    for group in hidden.loc[hidden["table"] == "sample", "group"]:
        rows = varna[(varna["group"] == group) & (varna["table"] != "means_by_age_band")]
        assert rows["hidden"].all()


def test_reduced_placement_batch_audits_clean(tmp_path):
    """Placements: the yearly counts of the country and two oblasts (Pernik and Vratsa, whose
    entries the issue recovered from the per-table suppression) leave nothing to find."""
    from research_lib.paths import DEMO_DIR
    from research_lib.studies.placements import pipeline as ps

    episodes, population = DEMO_DIR / "episodes.csv", DEMO_DIR / "population_synthetic.csv"
    if not episodes.is_file():
        pytest.skip("demo data not generated (make demo-data)")
    linked = []
    for oblast in ("all", "pernik", "vratsa"):
        data = ps.prepare(episodes, population=population, oblast=oblast)
        linked.append(ps.linked_year_counts(data))
        published = ps.published_figures(ps.analyse(data), data)
        write_published(published, tmp_path / "placements" / oblast / "published.csv")
    for other in linked[1:]:
        pd.testing.assert_frame_equal(other, linked[0])
    result = audit_folder(tmp_path)
    assert result.files == 3
    assert result.clean, result.summary()


@pytest.mark.parametrize("protect", [False, True])
def test_batch_ends_with_the_audit_and_fails_on_a_disclosure(
    tmp_path, capsys, monkeypatch, protect
):
    """The batch command audits reports/<study>/ once its runs have ended (runs mocked)."""
    from research_lib.runner import runs

    cells = oblast_cells(protect)
    for scope, folder in (("all", "all"), ("BG331", "varna"), ("BG424", "smolyan")):
        write_report(tmp_path, scope, cells)
        if scope != folder:
            (tmp_path / "s" / scope).rename(tmp_path / "s" / folder)
    (tmp_path / "index.html").write_text("", encoding="utf-8")

    def fake_batch(study, parameters, **_):
        return runs.BatchResult(study=study, results=[], index=tmp_path / "index.html")

    monkeypatch.setattr(runs, "run_batch", fake_batch)
    code = main(["batch", "s", "--over", "oblast"])
    out = capsys.readouterr().out
    if protect:
        assert code == 0 and "nothing disclosed" in out
    else:
        assert code == 1
        assert "batch failed" in out and "s/BG331: sample | a | children" in out


# --------------------------------------------------------------- tables of children (placements)


def child_cells(tic: dict[str, int], cohorts: dict[str, dict[str, int]]) -> pd.DataFrame:
    """One report: children in each type (time_in_care) and by entry cohort (two tables)."""
    rows = [
        {"study": "p", "scope": "all", "table": "time_in_care", "group": g, "measure": m, "n": n}
        for g, n in tic.items()
        for m in ("median_months", "q25_months")
    ]
    rows += [
        {"study": "p", "scope": "all", "table": t, "group": g, "measure": c, "n": n}
        for t in ("median_time_by_cohort", "reunified_12m_by_cohort")
        for g, by in cohorts.items()
        for c, n in by.items()
    ]
    return pd.DataFrame(rows)


def test_a_cohort_count_leaks_from_the_children_in_care_of_its_type():
    """Hand-made: 7 children in foster care, 5 in the 2015-2019 cohort and 2 in 2020-2024;
    hiding the 2 alone is undone by 7 - 5 (the cohort tables partition time_in_care's n),
    and the linked pattern hides a complement."""
    cells = child_cells({"foster": 7}, {"foster": {"2015-2019": 5, "2020-2024": 2}})
    per_table = cells.assign(hidden=cells["n"] < 5)
    leaks = audit_cells(per_table, rules=ONE)
    assert {(d.table, d.measure, d.lower) for d in leaks} == {
        ("median_time_by_cohort", "2020-2024", 2),
        ("reunified_12m_by_cohort", "2020-2024", 2),
    }
    linked = cells.assign(hidden=protect_linked(cells, rules=ONE).to_numpy())
    assert audit_cells(linked, rules=ONE) == []
    # one pattern per group: the two cohort tables hide the same cells
    cohort = linked[linked["table"] != "time_in_care"]
    by_table = cohort.pivot_table(index="measure", columns="table", values="hidden")
    assert (by_table.iloc[:, 0] == by_table.iloc[:, 1]).all()


def test_children_counted_in_several_oblasts_bound_the_country_from_above_only():
    """time_in_care counts a child in every oblast where it stayed and once nationally, so
    the national n is at most the sum of the oblasts' (not equal): nothing is pinned."""
    cells = pd.DataFrame(
        [
            {"study": "p", "scope": s, "table": "time_in_care", "group": "foster"}
            | {"measure": "median_months", "n": n}
            for s, n in (("x", 3), ("y", 8), ("all", 10))  # one child stayed in both
        ]
    ).assign(hidden=lambda f: f["n"] < 5)
    bounds = cell_bounds(cells, rules=TWO)
    hidden = bounds[bounds["scope"] == "x"].iloc[0]
    assert hidden["lower"] == pytest.approx(2.0)  # 10 - 8 at least, not exactly 2
    assert hidden["upper"] == math.inf


def test_reduced_placement_batch_per_table_child_tables_leak_and_linked_do_not():
    """Demo data, the country and Pernik, Vratsa, Varna, through the library: the cohort
    tables suppressed one table at a time are undone by time_in_care's n (the issue's
    within-report leak); the batch-wide pattern of linked_year_counts leaves nothing."""
    from dataclasses import replace
    from types import SimpleNamespace

    from research_lib.disclosure.figures import build_figures
    from research_lib.disclosure.suppression import to_published
    from research_lib.io.oblasts import resolve_scope
    from research_lib.paths import DEMO_DIR
    from research_lib.stats.time_in_care import observation_start
    from research_lib.studies.placements import pipeline as ps

    episodes, population = DEMO_DIR / "episodes.csv", DEMO_DIR / "population_synthetic.csv"
    if not episodes.is_file():
        pytest.skip("demo data not generated (make demo-data)")
    data = ps.prepare(episodes, population=population)
    scopes = ["all", *(resolve_scope(s) for s in ("pernik", "vratsa", "varna"))]
    window = observation_start(data.episodes)
    old = []
    for scope in scopes:  # the per-table suppression used until now
        d = replace(data, scope=scope)
        tic, cohort, exits, reunified = ps.spell_tables(d, window)
        tables = SimpleNamespace(
            entries_0_3=ps.young_yearly(d, window),
            time_in_care=tic,
            time_by_cohort=cohort,
            exits=exits,
            exits_by_cohort=reunified,
        )
        figures = build_figures((*ps.YOUNG_FIGURES, *ps.CHILD_FIGURES), tables)
        pub = to_published(figures)
        old.append(
            pd.DataFrame(
                {
                    "study": "placements",
                    "scope": scope,
                    "table": pub["table"].astype(str),
                    "group": pub["group"].astype(str),
                    "measure": pub["measure"].astype(str),
                    "n": pd.to_numeric(pub["n"]),
                    "hidden": pub["suppressed"].astype(bool),
                }
            )
        )
    old_cells = pd.concat(old, ignore_index=True)
    cells = ps.linked_year_counts(data)
    cells = cells[cells["scope"].isin(scopes) & cells["table"].isin(ps.LINKED_CHILDREN)]
    true_n = cells.set_index(["scope", "table", "group", "measure"])["n"]
    old_cells["n"] = true_n.loc[
        list(old_cells[["scope", "table", "group", "measure"]].itertuples(index=False))
    ].to_numpy()
    leaks = audit_cells(old_cells)
    assert leaks and {d.table for d in leaks} <= {
        "median_time_by_cohort",
        "reunified_12m_by_cohort",
    }
    new_cells = cells.assign(hidden=protect_linked(cells).to_numpy())
    assert audit_cells(new_cells) == []
    assert new_cells["hidden"].sum() >= old_cells["hidden"].sum()
