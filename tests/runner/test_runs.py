"""Study runs: parameter checking before any kernel, batches with a failing oblast, skipping.

The batch tests run a tiny study notebook written into ``tmp_path`` (it reads
one input file, writes one ``published.csv`` row and raises for the oblast
named in ``fail_for``), so each run costs a kernel start and little else.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import nbformat
import pytest

from research_lib.errors import InputError
from research_lib.render.index_page import page_text
from research_lib.runner import execute, runs
from research_lib.runner.cli import main
from research_lib.runner.index import collect_runs
from research_lib.runner.outputs import OutputError
from research_lib.runner.provenance import read_provenance, write_provenance
from research_lib.runner.runs import (
    STUDIES,
    BatchResult,
    Headline,
    RunResult,
    Study,
    batch_scopes,
    check_parameters,
    one_line_error,
    run_batch,
    run_one,
)

TOY_CODE = """\
from research_lib.paths import project_path
from research_lib.io.oblasts import resolve_scope

scope = resolve_scope(oblast)
if oblast == fail_for:
    raise ValueError(f"no children in foster care in {oblast}")
text = project_path(data).read_text(encoding="utf-8")
out = project_path(output_dir)
out.mkdir(parents=True, exist_ok=True)
value = len(text) + len(label)
(out / "published.csv").write_text(
    "table,group,measure,n,value,ci_low,ci_high,suppressed\\n"
    f"headline,all,score,10,{value}.25,,,False\\n",
    encoding="utf-8",
)
print(label, scope, value)
"""


def write_toy_notebook(path: Path, extra_cell: str | None = None) -> Path:
    """A study notebook with a ``parameters`` cell and one cell of work."""
    nb = nbformat.v4.new_notebook()
    parameters = nbformat.v4.new_code_cell(
        'oblast = "all"\ndata = "data/demo/survey.csv"\nlabel = "toy"\nfail_for = ""\n'
        'min_cell = 5\nlanguage = "bg"\noutput_dir = "reports/toy/all"\n'
    )
    parameters.metadata["tags"] = ["parameters"]
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Toy study"),
        parameters,
        nbformat.v4.new_code_cell(TOY_CODE),
    ]
    if extra_cell is not None:
        nb.cells.append(nbformat.v4.new_code_cell(extra_cell))
    nb.metadata["kernelspec"] = {
        "name": runs.KERNEL_NAME,
        "display_name": "x",
        "language": "python",
    }
    nbformat.write(nb, str(path))
    return path


def toy_study(folder: Path, name: str = "toy") -> Study:
    """A temporary study around :func:`write_toy_notebook` (title borrowed from the QoL study)."""
    notebook = write_toy_notebook(folder / f"{name}.ipynb")
    return Study(
        name,
        str(notebook),
        "qol.title",
        input_files=("data",),
        headline=Headline("headline", "all", "score", label={"bg": "Тест", "en": "Test"}),
    )


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """The toy study registered as ``toy``, its input file, and a reports folder."""
    spec = toy_study(tmp_path)
    monkeypatch.setitem(STUDIES, "toy", spec)
    monkeypatch.setattr(execute, "code_hash", lambda *a, **k: "c" * 64)  # others edit the code
    data = tmp_path / "input.txt"
    data.write_text("hello", encoding="utf-8")
    return spec, data, tmp_path / "reports"


@pytest.fixture
def no_kernel(monkeypatch):
    """Fail the test if anything tries to execute a notebook."""

    def refuse(*args, **kwargs):
        raise AssertionError("a kernel was started")

    monkeypatch.setattr(execute, "execute_plan", refuse)
    monkeypatch.setattr("papermill.execute_notebook", refuse)


# --------------------------------------------------------------------------- parameters


def test_unknown_parameter_lists_the_accepted_ones(no_kernel):
    with pytest.raises(InputError) as err:
        run_one("qol", {"colour": "red"})
    message = str(err.value)
    assert "colour" in message and "Accepted:" in message
    for name in ("responses", "codebook", "oblast", "wave", "language", "min_cell"):
        assert name in message


@pytest.mark.parametrize(
    ("parameters", "words"),
    [
        ({"min_cell": "five"}, ["min_cell", "expected int like 5", "'five'"]),
        ({"min_cell": 2.5}, ["min_cell", "expected int"]),
        ({"language": 3}, ["language", "expected str"]),
        ({"oblast": "Нарния"}, ["unknown oblast", "Accepted:", "BG421", "plovdiv"]),
        ({"language": "fr"}, ["unknown language", "bg", "en"]),
        ({"reference_group": "orphanage"}, ["reference_group", "Accepted:", "foster", "cnst"]),
        ({"min_cell": 0}, ["min_cell", "at least 1"]),
        (
            {"responses": "data/demo/no_such_survey.csv"},
            ["responses", "file not found", "data/demo/no_such_survey.csv", "survey.csv"],
        ),
        ({"codebook": "nowhere/book.yaml"}, ["codebook", "file not found", "does not exist"]),
    ],
)
def test_bad_parameters_are_refused_before_any_kernel_starts(no_kernel, parameters, words):
    with pytest.raises(InputError) as err:
        run_one("qol", parameters)
    for word in words:
        assert word in str(err.value)
    with pytest.raises(InputError):
        run_batch("qol", {k: v for k, v in parameters.items() if k != "oblast"} or parameters)


def test_text_values_from_the_command_line_are_converted():
    params = check_parameters("qol", {"min_cell": "10", "oblast": "Пловдив"})
    assert params["min_cell"] == 10 and params["oblast"] == "Пловдив"
    assert params["language"] == "bg"  # defaults kept


def test_batch_refuses_parameters_it_sets_itself(no_kernel):
    for name, value in (("oblast", "plovdiv"), ("output_dir", "reports/x")):
        with pytest.raises(InputError, match="set by the batch"):
            run_batch("qol", {name: value})
    with pytest.raises(InputError, match="over"):
        run_batch("qol", over="wave")


def test_unknown_study_lists_the_studies(no_kernel):
    with pytest.raises(InputError, match="studies: .*qol"):
        run_batch("nonsense")


def test_cli_bad_parameter_exits_2_without_traceback(no_kernel, capsys):
    assert main(["batch", "qol", "--over", "oblast", "-p", "colour=red"]) == 2
    assert main(["batch", "qol", "--over", "oblast", "-p", "min_cell=x"]) == 2
    assert main(["run", "qol", "-p", "oblast=atlantis"]) == 2
    assert main(["batch", "qol", "--over", "oblast", "--jobs", "0"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.count("error: ") == 4 and "Accepted:" in err


def test_batch_scopes_are_the_country_and_28_oblasts():
    scopes = batch_scopes()
    assert scopes[0] == "all" and len(scopes) == 29 and len(set(scopes)) == 29
    assert batch_scopes(["Пловдив", "plovdiv", "BG311"]) == ["BG421", "BG311"]


def test_one_line_error():
    assert one_line_error("KeyError", "'x'\n", None) == "KeyError: 'x'"
    assert len(one_line_error("E", "x" * 1000)) < 320


# --------------------------------------------------------------------------- batches


def test_a_failing_oblast_does_not_stop_the_others(toy):
    spec, data, reports = toy
    batch = run_batch(
        spec,
        {"data": str(data), "fail_for": "vidin"},
        oblasts=["all", "vidin", "plovdiv"],
        jobs=2,
        reports_dir=reports,
        progress=False,
    )
    status = {r.slug: r.status for r in batch.results}
    assert status == {"all": "done", "vidin": "failed", "plovdiv": "done"}
    assert batch.exit_code == 3  # a notebook failed (1 is "rows rejected" in validate/score)
    (failed,) = batch.failed
    assert failed.error.startswith("ValueError: no children in foster care in vidin [cell ")
    assert "\n" not in failed.error
    summary = batch.summary()
    assert "2 done, 0 skipped, 1 failed" in summary and "vidin" in summary
    # every run has its folder and provenance; the failed one keeps its executed notebook
    for slug in ("all", "vidin", "plovdiv"):
        record = read_provenance(reports / "toy" / slug)
        assert record["status"] == ("failed" if slug == "vidin" else "ok")
    assert (reports / "toy" / "plovdiv" / "report.html").is_file()
    assert not (reports / "toy" / "vidin" / "report.html").exists()
    assert (reports / "toy" / "vidin" / "toy.failed.ipynb").is_file()
    error = read_provenance(reports / "toy" / "vidin")["error"]
    assert error["ename"] == "ValueError" and "vidin" in error["evalue"]
    # the index is rebuilt at the end and lists all three
    index = batch.index.read_text(encoding="utf-8")
    assert batch.index == reports / "index.html"
    assert 'href="toy/plovdiv/report.html"' in index and 'href="toy/all/report.html"' in index
    assert 'href="toy/vidin/report.html"' not in index
    # a failed run is never "unchanged": the rerun retries it and skips the others
    again = run_batch(
        spec,
        {"data": str(data), "fail_for": "vidin"},
        oblasts=["all", "vidin", "plovdiv"],
        jobs=2,
        reports_dir=reports,
        progress=False,
    )
    assert {r.slug: r.status for r in again.results} == {
        "all": "skipped",
        "vidin": "failed",
        "plovdiv": "skipped",
    }


def test_skip_when_unchanged_and_rerun_when_anything_changes(fake, tmp_path, monkeypatch):
    """The skip decision is bookkeeping: the notebook is not executed (see ``fake``)."""
    spec, data, reports = fake
    params = {"data": str(data)}

    def once(parameters=params, study=spec, **kwargs) -> str:
        return run_one(study, parameters, reports_dir=reports, **kwargs).status

    assert once() == "done"
    first = read_provenance(reports / "toy" / "all")
    assert once() == "skipped"
    assert once(force=True) == "done"
    assert read_provenance(reports / "toy" / "all")["run_hash"] == first["run_hash"]

    data.write_text("hello, world", encoding="utf-8")  # an input file's contents
    assert once() == "done"
    assert once() == "skipped"
    data.touch()  # a new modification time alone is not a change
    assert once() == "skipped"

    assert once({**params, "label": "other"}) == "done"  # a parameter
    assert once({**params, "label": "other"}) == "skipped"
    assert once() == "done"  # and back

    write_toy_notebook(Path(spec.notebook), extra_cell="print('one more cell')")  # the notebook
    assert once() == "done"
    assert once() == "skipped"

    monkeypatch.setattr(execute, "code_hash", lambda *a, **k: "d" * 64)  # the library's code
    assert once() == "done"
    assert once() == "skipped"

    (reports / "toy" / "all" / "report.html").unlink()  # an output gone missing
    assert once() == "done"


def test_an_interrupted_run_is_not_unchanged(fake):
    spec, data, reports = fake
    assert run_one(spec, {"data": str(data)}, reports_dir=reports).status == "done"
    path = reports / "toy" / "all" / "provenance.json"
    record = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({**record, "status": "running"}), encoding="utf-8")
    assert run_one(spec, {"data": str(data)}, reports_dir=reports).status == "done"


def test_run_study_returns_the_folder_and_raises_one_line_on_failure(toy):
    spec, data, reports = toy
    folder = runs.run_study(spec, {"data": str(data), "oblast": "Пловдив"}, reports_dir=reports)
    assert folder == (reports / "toy" / "plovdiv").resolve()
    assert {p.name for p in folder.iterdir()} >= {
        "report.html",
        "toy.ipynb",
        "published.csv",
        "provenance.json",
    }
    with pytest.raises(runs.RunFailed, match=r"^ValueError: no children .* smolyan \[cell \d+\]$"):
        runs.run_study(
            spec,
            {"data": str(data), "oblast": "smolyan", "fail_for": "smolyan"},
            reports_dir=reports,
        )


def test_batch_summary_and_exit_codes():
    ok = RunResult("qol", "BG421", "plovdiv", Path("x"), "done")
    skipped = RunResult("qol", "all", "all", Path("y"), "skipped")
    failed = RunResult("qol", "BG311", "vidin", Path("z"), "failed", "ValueError: boom [cell 3]")
    assert BatchResult("qol", [ok, skipped]).exit_code == 0
    batch = BatchResult("qol", [ok, skipped, failed], seconds=12.0, jobs=2)
    assert batch.exit_code == 3
    assert batch.summary().splitlines() == [
        "qol: 3 runs — 1 done, 1 skipped, 1 failed (12.0 s, 2 parallel jobs)",
        "  FAILED vidin (BG311): ValueError: boom [cell 3]",
    ]


# --------------------------------------------------------------------------- issue 15: hostile input
# Most of these tests replace the notebook execution with ``fake_notebook`` (it writes the
# outputs a study writes, or fails for the oblast named in ``fail_for``), so the atomic
# replacement, locks, confinement and index are tested without starting a kernel.


def fake_notebook(plan, work: Path, kernel=None):
    """Stand-in for ``execute._run_notebook``: outputs that name the run's ``label``."""
    label = plan.parameters.get("label", "toy")
    (work / "toy.ipynb").write_text(json.dumps({"label": label}), encoding="utf-8")
    if plan.parameters.get("fail_for") == plan.slug:
        return {"ename": "ValueError", "evalue": f"boom in {plan.slug}", "cell": 3}
    (work / "report.html").write_text(
        f"<html><body>\n<main>\n<p>{label}</p>\n</main></body></html>", encoding="utf-8"
    )
    (work / "published.csv").write_text(
        "table,group,measure,n,value,ci_low,ci_high,suppressed\n"
        f"headline,all,score,10,{len(label)},,,False\n",
        encoding="utf-8",
    )
    return None


@pytest.fixture
def fake(toy, monkeypatch):
    """The toy study with :func:`fake_notebook` instead of a kernel."""
    monkeypatch.setattr(execute, "_run_notebook", fake_notebook)
    return toy


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


# ---- outputs confined (item 2)


@pytest.mark.parametrize(
    "value",
    [
        "/etc",
        "~",
        "",
        "../x",
        "reports/../../x",
        "/tmp",
        "{reports}/other/plovdiv",
        "{reports}/toy",
    ],
)
def test_output_dir_outside_the_reports_root_is_refused(fake, no_kernel, value, capsys):
    """Each value from the issue (and a folder of another study, or the study folder itself)."""
    spec, data, reports = fake
    value = value.replace("{reports}", str(reports))
    with pytest.raises(OutputError, match="output_dir"):
        run_one(spec, {"data": str(data), "output_dir": value}, reports_dir=reports)
    assert not (Path("/etc") / "report.html").exists()
    assert not list(reports.rglob("*.html"))  # nothing written anywhere


def test_a_symbolic_link_out_of_the_root_is_refused(fake, no_kernel, tmp_path):
    spec, data, reports = fake
    outside = tmp_path / "outside"
    outside.mkdir()
    (reports / "toy").mkdir(parents=True)
    (reports / "toy" / "plovdiv").symlink_to(outside, target_is_directory=True)
    for value in (reports / "toy" / "plovdiv", reports / "toy" / "plovdiv" / ".." / "x"):
        with pytest.raises(OutputError, match="symbolic link|outside"):
            run_one(
                spec,
                {"data": str(data), "oblast": "plovdiv", "output_dir": str(value)},
                reports_dir=reports,
            )
    with pytest.raises(OutputError, match="symbolic link"):  # the default folder too
        run_one(spec, {"data": str(data), "oblast": "plovdiv"}, reports_dir=reports)
    assert list(outside.iterdir()) == []


def test_a_run_for_another_oblast_cannot_write_into_a_report_folder(fake):
    """Plovdiv pointed at Varna's folder: refused, Varna's report untouched."""
    spec, data, reports = fake
    assert run_one(spec, {"data": str(data), "oblast": "varna"}, reports_dir=reports).ok
    varna = reports / "toy" / "varna"
    before = _files(varna)
    with pytest.raises(OutputError, match=r"holds the toy report for Varna .*Plovdiv"):
        run_one(
            spec,
            {"data": str(data), "oblast": "plovdiv", "output_dir": str(varna)},
            reports_dir=reports,
        )
    assert _files(varna) == before
    # a folder with files but no provenance is nobody's report: refused as well
    stray = reports / "toy" / "stray"
    stray.mkdir()
    (stray / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(OutputError, match="no readable provenance"):
        run_one(spec, {"data": str(data), "output_dir": str(stray)}, reports_dir=reports)
    # the same study and oblast may use a folder of its own name
    own = run_one(
        spec,
        {"data": str(data), "oblast": "plovdiv", "output_dir": str(reports / "toy" / "plovdiv-en")},
        reports_dir=reports,
    )
    assert own.status == "done" and read_provenance(own.folder)["oblast"] == "BG421"


@pytest.mark.parametrize(
    "root", ["/", "~", "", "/etc", "/etc/reports", "{project}", "{project}/.."]
)
def test_the_reports_root_is_never_a_system_home_or_project_folder(root):
    from research_lib.paths import PROJECT_ROOT
    from research_lib.runner.outputs import check_reports_root

    with pytest.raises(OutputError, match="reports root"):
        check_reports_root(root.replace("{project}", str(PROJECT_ROOT)))


def test_the_reports_root_is_configured_once_in_the_environment(tmp_path):
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", "from research_lib.paths import REPORTS_DIR; print(REPORTS_DIR)"],
        env={**os.environ, "DI_REPORTS_ROOT": str(tmp_path / "published")},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == str(tmp_path / "published")


def test_cli_refused_output_exits_2_with_one_line(no_kernel, capsys):
    for value in ("/etc", "~", "", "../x"):
        assert main(["run", "qol", "-p", f"output_dir={value}"]) == 2
    err = capsys.readouterr().err
    assert err.count("error: output_dir") == 4 and "Traceback" not in err


# ---- read-only output (item 8)


def _read_only(monkeypatch):
    import errno

    from research_lib.runner import outputs

    def refuse(folder):
        raise OSError(errno.EROFS, "Read-only file system", str(folder))

    monkeypatch.setattr(outputs, "_probe_write", refuse)


def test_read_only_output_is_refused_before_a_kernel_with_one_line(no_kernel, monkeypatch, capsys):
    """As root chmod does not stop a write, so the failing write is simulated."""
    _read_only(monkeypatch)
    assert main(["run", "qol"]) == 2
    assert main(["batch", "qol", "--over", "oblast"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and "Traceback" not in "".join(err)
    assert "cannot write to reports" in err[0] and "read-only file system" in err[0]
    assert err[1].startswith("error: 29 of 29 report folders refused, nothing was run")


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0,
    reason="as root, permissions do not stop a write (the simulated test above covers the path)",
)
def test_a_folder_without_write_permission_is_refused_before_a_kernel(fake, no_kernel):
    spec, data, reports = fake
    (reports / "toy").mkdir(parents=True)
    (reports / "toy").chmod(0o555)
    try:
        with pytest.raises(OutputError, match=r"cannot write to .*toy/: permission denied\.$"):
            run_one(spec, {"data": str(data)}, reports_dir=reports)
    finally:
        (reports / "toy").chmod(0o755)


def test_an_index_that_cannot_be_written_is_reported_in_one_line(fake, monkeypatch):
    spec, data, reports = fake

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(reports / "index.html"))

    monkeypatch.setattr("research_lib.runner.index.build_index", refuse)
    result = run_one(spec, {"data": str(data)}, reports_dir=reports)
    assert result.status == "done" and "Permission denied" in result.index_error
    batch = run_batch(
        spec, {"data": str(data)}, oblasts=["vidin"], jobs=1, reports_dir=reports, progress=False
    )
    assert batch.exit_code == 3 and "index not rebuilt: PermissionError" in batch.summary()


# ---- atomic runs (item 3)


def test_a_failed_run_keeps_the_last_good_report_and_says_so(fake):
    spec, data, reports = fake
    params = {"data": str(data), "oblast": "vidin"}
    assert run_one(spec, params, reports_dir=reports).status == "done"
    folder = reports / "toy" / "vidin"
    good = _files(folder)
    first = read_provenance(folder)
    result = run_one(spec, {**params, "fail_for": "vidin"}, reports_dir=reports)
    assert result.status == "failed" and result.error == "ValueError: boom in vidin [cell 3]"
    after = _files(folder)
    for name in ("report.html", "published.csv", "toy.ipynb"):
        assert after[name] == good[name], name  # the previous report, byte for byte
    assert "toy.failed.ipynb" in after  # the failed notebook, beside it
    record = read_provenance(folder)
    assert record["status"] == "failed" and record["error"]["ename"] == "ValueError"
    assert record["previous"]["status"] == "ok"
    assert record["previous"]["end_time"] == first["end_time"]
    # the index links the previous report and says the last run failed
    page = (reports / "index.html").read_text(encoding="utf-8")
    date = first["end_time"][:10]
    assert f"последното изпълнение е неуспешно; показан е предишният доклад от {date}" in page
    assert 'href="toy/vidin/report.html"' in page
    # another failure keeps the same previous report; a success replaces everything
    run_one(spec, {**params, "fail_for": "vidin"}, reports_dir=reports)
    assert read_provenance(folder)["previous"]["end_time"] == first["end_time"]
    assert run_one(spec, {**params, "label": "new"}, reports_dir=reports).status == "done"
    assert "new" in (folder / "report.html").read_text(encoding="utf-8")
    assert "toy.failed.ipynb" not in _files(folder)
    assert "previous" not in read_provenance(folder) or read_provenance(folder)["status"] == "ok"
    assert not list((reports / "toy").glob(".vidin.*.tmp"))  # no temporary folder left


def test_an_error_after_the_notebook_keeps_the_report(fake, monkeypatch):
    """An exception while replacing (say a full disk) is a failed run, not a lost report."""
    spec, data, reports = fake
    assert run_one(spec, {"data": str(data)}, reports_dir=reports).ok
    good = _files(reports / "toy" / "all")

    def full(new, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(execute, "replace_folder", full)
    result = run_one(spec, {"data": str(data), "label": "x"}, reports_dir=reports)
    assert result.status == "failed" and "No space left" in result.error
    after = _files(reports / "toy" / "all")
    assert {k: after[k] for k in ("report.html", "published.csv")} == {
        k: good[k] for k in ("report.html", "published.csv")
    }
    assert read_provenance(reports / "toy" / "all")["status"] == "failed"


def test_a_wrong_wave_is_refused_before_a_kernel_and_the_report_is_kept(no_kernel, capsys):
    """`-p wave=2099`: the demo survey has waves 2024 and 2025 (read from the file)."""
    from research_lib.paths import REPORTS_DIR

    report = REPORTS_DIR / "qol" / "all" / "report.html"
    before = report.read_bytes() if report.is_file() else None
    assert main(["run", "qol", "-p", "wave=2099"]) == 2
    err = capsys.readouterr().err
    assert "wave: '2099' is not a value of the wave column" in err
    assert "'2024', '2025', 'latest'" in err and "Traceback" not in err
    assert (report.read_bytes() if report.is_file() else None) == before
    assert check_parameters("qol", {"wave": "2024"})["wave"] == "2024"


def test_an_empty_or_altered_report_is_never_unchanged(fake):
    spec, data, reports = fake
    params = {"data": str(data)}
    assert run_one(spec, params, reports_dir=reports).status == "done"
    assert run_one(spec, params, reports_dir=reports).status == "skipped"
    report = reports / "toy" / "all" / "report.html"
    report.write_bytes(b"")  # truncated to nothing
    assert run_one(spec, params, reports_dir=reports).status == "done"
    assert report.stat().st_size > 0
    with open(report, "ab") as handle:  # altered
        handle.write(b"<p>x</p>")
    assert run_one(spec, params, reports_dir=reports).status == "done"
    published = reports / "toy" / "all" / "published.csv"
    published.write_text(published.read_text(encoding="utf-8")[:20], encoding="utf-8")
    assert run_one(spec, params, reports_dir=reports).status == "done"
    assert run_one(spec, params, reports_dir=reports).status == "skipped"


def test_a_killed_runs_temporary_folder_is_removed_by_the_next_run(fake):
    spec, data, reports = fake
    stale = reports / "toy" / ".all.abc123.tmp"
    stale.mkdir(parents=True)
    (stale / "report.html").write_text("half", encoding="utf-8")
    assert run_one(spec, {"data": str(data)}, reports_dir=reports).status == "done"
    assert not stale.exists()
    assert [r["_folder"] for r in collect_runs(reports)] == ["toy/all"]


def test_concurrent_runs_of_one_folder_wait_for_each_other(fake):
    """A run that finds the folder locked waits; it then replaces the report as a whole."""
    import threading

    from research_lib.runner.outputs import folder_lock

    spec, data, reports = fake
    folder = (reports / "toy" / "all").resolve()
    waiting, results = threading.Event(), {}

    def second() -> None:
        results["second"] = run_one(
            spec, {"data": str(data), "label": "second"}, reports_dir=reports, on_wait=waiting.set
        )

    folder.parent.mkdir(parents=True)
    with folder_lock(folder):  # a first run holds the lock
        thread = threading.Thread(target=second)
        thread.start()
        assert waiting.wait(30), "the second run did not wait for the lock"
        assert thread.is_alive() and not folder.exists()
    thread.join(60)
    assert results["second"].status == "done"
    # report and published figures come from the same run
    assert "second" in (folder / "report.html").read_text(encoding="utf-8")
    assert ",6,,,False" in (folder / "published.csv").read_text(encoding="utf-8")
    # many runs at once: serialised, each ends done or skipped, the folder is consistent
    threads = [
        threading.Thread(
            target=lambda k=k: results.__setitem__(
                k, run_one(spec, {"data": str(data), "label": f"run{k % 2}"}, reports_dir=reports)
            )
        )
        for k in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(results[k].status in {"done", "skipped"} for k in range(6))
    label = json.loads((folder / "toy.ipynb").read_text(encoding="utf-8"))["label"]
    assert label in (folder / "report.html").read_text(encoding="utf-8")


def test_provenance_writers_never_share_a_temporary_name(tmp_path):
    import threading

    from research_lib.runner.provenance import write_provenance

    errors = []

    def write(k: int) -> None:
        try:
            for j in range(20):
                write_provenance(tmp_path, {"writer": k, "j": j})
        except OSError as err:  # pragma: no cover - the failure this test guards against
            errors.append(err)

    threads = [threading.Thread(target=write, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and read_provenance(tmp_path)["j"] == 19
    assert [p.name for p in tmp_path.iterdir()] == ["provenance.json"]


# ---- parameters (item 8)


@pytest.mark.parametrize(
    ("study", "parameters", "words"),
    [
        ("qol", {"min_cell": 1}, ["min_cell=1 is below 3", "--allow-small-min-cell"]),
        ("qol", {"min_cell": "2"}, ["min_cell=2 is below 3"]),
        ("placements", {"reform_date": "notadate"}, ["reform_date", "YYYY-MM-DD", "'notadate'"]),
        ("placements", {"reform_date": "2016-13-01"}, ["reform_date", "YYYY-MM-DD"]),
        ("brief", {"reform_date": "16-01-2016"}, ["reform_date", "YYYY-MM-DD"]),
        ("brief", {"reform_date": "1066-10-14"}, ["between 1990 and 2100"]),
        ("brief", {"max_recommendations": "-1"}, ["max_recommendations", "from 1 to 50", "-1"]),
        ("brief", {"max_recommendations": 0}, ["max_recommendations", "from 1 to 50"]),
    ],
)
def test_unsafe_or_malformed_values_are_refused(no_kernel, study, parameters, words):
    with pytest.raises(InputError) as err:
        run_one(study, parameters)
    for word in words:
        assert word in str(err.value)


def test_valid_dates_and_counts_pass():
    assert (
        check_parameters("placements", {"reform_date": "2016-01-01"})["reform_date"] == "2016-01-01"
    )
    assert check_parameters("brief", {"max_recommendations": "3"})["max_recommendations"] == 3
    assert check_parameters("qol", {"min_cell": 3})["min_cell"] == 3


def test_min_cell_below_3_needs_the_override_and_the_report_says_so(fake):
    spec, data, reports = fake
    with pytest.raises(InputError, match="below 3"):
        run_one(spec, {"data": str(data), "min_cell": 1}, reports_dir=reports)
    result = run_one(
        spec, {"data": str(data), "min_cell": 1}, reports_dir=reports, allow_small_min_cell=True
    )
    assert result.status == "done"
    record = read_provenance(result.folder)
    assert record["overrides"] == [
        {"parameter": "min_cell", "value": 1, "floor": 3, "allowed_by": "--allow-small-min-cell"}
    ]
    report = (result.folder / "report.html").read_text(encoding="utf-8")
    assert "прагът за защита на малките числа е намален до min_cell = 1" in report
    assert report.index("override-notice") < report.index("<p>toy</p>")  # at the top
    page = (reports / "index.html").read_text(encoding="utf-8")
    assert "изключение: min_cell = 1 (под долната граница 3)" in page
    # without an override the report has no notice
    result = run_one(spec, {"data": str(data), "min_cell": 5}, reports_dir=reports)
    assert "override-notice" not in (result.folder / "report.html").read_text(encoding="utf-8")
    assert read_provenance(result.folder)["overrides"] == []


def test_cli_exit_codes_for_a_failed_notebook(fake, monkeypatch, capsys):
    spec, data, reports = fake
    original = runs.run_one

    def run_here(*args, **kwargs):
        return original(*args, **{**kwargs, "reports_dir": reports})

    monkeypatch.setattr(runs, "run_one", run_here)
    assert main(["run", "toy", "-p", f"data={data}"]) == 0
    assert main(["run", "toy", "-p", f"data={data}", "-p", "fail_for=all"]) == 3
    captured = capsys.readouterr()
    assert "failed: ValueError: boom in all [cell 3]" in captured.err
    assert "the previous report is kept" in captured.out
    assert main(["run", "toy", "-p", "min_cell=1"]) == 2


# ---- interrupted batches (item 4): a real batch in a subprocess, stopped while running

DRIVER = """\
import sys
from research_lib.runner.runs import STUDIES, Study
from research_lib.runner.cli import main
from research_lib.runner.index import collect_runs

if __name__ == "__main__":
    STUDIES["toy"] = Study("toy", sys.argv[1], "qol.title", input_files=("data",))
    sys.exit(main(["batch", "toy", "--over", "oblast", "--jobs", "2", "-p", "data=" + sys.argv[2]]))
"""

SLOW_CELL = """\
import os, time
from research_lib.paths import project_path
(project_path(data).parent / f"kernel-{oblast}.pid").write_text(str(os.getpid()))
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie child of a dead parent counts as gone
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def _wait(condition, seconds: float = 90.0) -> bool:
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def _terminal_signals() -> None:
    """In the driver, before exec: Ctrl-C acts as at a terminal.

    A command started in the background by a non-interactive shell (``make test &``,
    ``nohup``) inherits SIGINT ignored, and Python then never raises
    KeyboardInterrupt: the driver would not be stopped by the test's Ctrl-C.
    """
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start_slow_batch(tmp_path):
    """A batch of a notebook that sleeps; returns the process once two kernels are running."""
    import subprocess
    import sys

    notebook = write_toy_notebook(tmp_path / "slow.ipynb", extra_cell=SLOW_CELL)
    data = tmp_path / "input.txt"
    data.write_text("hello", encoding="utf-8")
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER, encoding="utf-8")
    reports = tmp_path / "reports"
    process = subprocess.Popen(
        [sys.executable, str(driver), str(notebook), str(data)],
        env={
            **{k: v for k, v in os.environ.items() if k != runs.MEMORY_ENV},
            "DI_REPORTS_ROOT": str(reports),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, like a terminal's foreground job
        preexec_fn=_terminal_signals,
    )
    kernels = lambda: sorted(tmp_path.glob("kernel-*.pid"))  # noqa: E731
    if not _wait(lambda: len(kernels()) == 2 or process.poll() is not None):
        process.kill()
    assert len(kernels()) == 2, process.communicate()[1][-2000:]
    records = [read_provenance(p.parent) for p in reports.glob("toy/*/provenance.json")]
    workers = [r["pid"] for r in records if r and r.get("status") == "running"]
    assert len(workers) == 2
    return process, reports, [int(p.read_text()) for p in kernels()], workers


def _address_space_limit(pid: int) -> str:
    with open(f"/proc/{pid}/limits") as limits:
        return next(line for line in limits if line.startswith("Max address space")).split()[3]


@pytest.mark.slow
def test_ctrl_c_stops_a_batch_promptly_with_one_line(tmp_path):
    """Stopping takes about 2 s here (benchmarks, not this test, time it); 60 s is a hang."""
    import signal

    process, reports, kernels, workers = _start_slow_batch(tmp_path)
    if os.path.exists(f"/proc/{workers[0]}/limits"):  # item 6: each worker and kernel is capped
        cap = str(runs.DEFAULT_MEMORY_LIMIT_MB * 1024 * 1024)
        assert {_address_space_limit(pid) for pid in workers + kernels} == {cap}
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C at the terminal sends
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "Traceback" not in err and "Traceback" not in out
    lines = [line for line in err.splitlines() if line.strip() and "%|" not in line]
    assert len(lines) == 1 and lines[0].startswith("interrupted: toy batch stopped"), err
    assert "2 stopped" in lines[0] and "27 not started" in lines[0]
    assert _wait(lambda: not any(_alive(p) for p in kernels + workers), 30)
    page = (reports / "index.html").read_text(encoding="utf-8")
    assert page.count('class="status-interrupted"') == 2
    assert page_text("status_interrupted") in page and 'class="status-ok"' not in page
    assert not list(reports.glob("toy/.*.tmp"))  # temporary folders removed


RUN_DRIVER = """\
import sys
from research_lib.runner.runs import STUDIES, Study
from research_lib.runner.cli import main
from research_lib.runner.index import collect_runs

if __name__ == "__main__":
    STUDIES["toy"] = Study("toy", sys.argv[1], "qol.title", input_files=("data",))
    sys.exit(main(["run", "toy", "-p", "data=" + sys.argv[2]]))
"""


@pytest.mark.slow
def test_ctrl_c_stops_a_single_run_with_one_line_and_keeps_the_report(tmp_path):
    import signal
    import subprocess
    import sys

    notebook = write_toy_notebook(tmp_path / "slow.ipynb", extra_cell=SLOW_CELL)
    data = tmp_path / "input.txt"
    data.write_text("hello", encoding="utf-8")
    (tmp_path / "driver.py").write_text(RUN_DRIVER, encoding="utf-8")
    reports = tmp_path / "reports"
    folder = reports / "toy" / "all"
    folder.mkdir(parents=True)
    good = {"study": "toy", "oblast": "all", "status": "ok", "outputs": ["report.html"]}
    write_provenance(folder, {**good, "end_time": "2025-03-01T10:00:00+00:00"})
    (folder / "report.html").write_text("<p>the last good report</p>", encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, str(tmp_path / "driver.py"), str(notebook), str(data)],
        env={**os.environ, "DI_REPORTS_ROOT": str(reports)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=_terminal_signals,
    )
    pid_file = tmp_path / "kernel-all.pid"
    if not _wait(lambda: pid_file.is_file() or process.poll() is not None):
        process.kill()
    assert pid_file.is_file(), process.communicate()[1][-2000:]
    kernel = int(pid_file.read_text())
    os.killpg(process.pid, signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert err.strip() == "interrupted: stopped before the end; no report was replaced."
    assert _wait(lambda: not _alive(kernel), 30)
    assert (folder / "report.html").read_text(encoding="utf-8") == "<p>the last good report</p>"
    record = read_provenance(folder)
    assert record["status"] == "interrupted" and record["previous"]["status"] == "ok"
    page = (reports / "index.html").read_text(encoding="utf-8")
    assert page.count('<span class="status-interrupted">') == 1
    assert 'class="status-ok"' not in page and 'href="toy/all/report.html"' in page
    assert "последното изпълнение е прекъснато; показан е предишният доклад от 2025-03-01" in page
    assert not list(reports.glob("toy/.*.tmp"))


@pytest.mark.slow
def test_killing_the_parent_stops_its_workers_and_kernels(tmp_path):
    import signal

    from research_lib.runner.index import build_index

    process, reports, kernels, workers = _start_slow_batch(tmp_path)
    os.kill(process.pid, signal.SIGKILL)  # the parent only: no chance to clean up
    process.communicate(timeout=30)
    assert _wait(lambda: not any(_alive(p) for p in kernels + workers), 30)
    page = build_index(reports).read_text(encoding="utf-8")
    assert page.count('class="status-interrupted"') == 2  # not "running", not "ready"
    assert 'class="status-running"' not in page and 'class="status-ok"' not in page


# ---- a memory cap per worker and kernel (item 6)

BIG_CELL = """\
import re, resource
soft, hard = resource.getrlimit(resource.RLIMIT_AS)
print("limit MiB", soft // 2**20, hard // 2**20)
if label == "big":  # ask for 1 GiB more than the cap leaves (address space only: nothing touched)
    status = open("/proc/self/status").read()
    mapped = int(re.search(r"VmSize:\\s+(\\d+)", status).group(1)) * 1024
    import numpy as np

    block = np.empty(soft - mapped + 2**30, dtype=np.uint8)
if label == "killed":  # what the kernel out-of-memory killer (or a crash in C code) does
    import os, signal

    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_kernel_over_its_memory_cap_fails_cleanly_as_a_failed_run(toy, monkeypatch, capfd):
    """The cap comes from DI_MEMORY_LIMIT_MB; the kernel cannot raise it; the report is kept."""
    import resource

    spec, data, reports = toy
    notebook = write_toy_notebook(Path(spec.notebook).with_name("big.ipynb"), extra_cell=BIG_CELL)
    monkeypatch.setitem(STUDIES, "toy", replace(spec, notebook=str(notebook)))
    monkeypatch.setenv(runs.MEMORY_ENV, "4096")
    folder = reports / "toy" / "all"
    (folder / "report.html").parent.mkdir(parents=True)
    write_provenance(folder, {"study": "toy", "oblast": "all", "status": "ok"})
    (folder / "report.html").write_text("<p>the last good report</p>", encoding="utf-8")
    result = run_one("toy", {"data": str(data), "label": "big"}, reports_dir=reports)
    assert result.status == "failed"
    assert result.error.startswith("MemoryError: Unable to allocate")
    assert "at most 4096 MiB of memory; set DI_MEMORY_LIMIT_MB" in result.error
    assert (folder / "report.html").read_text(encoding="utf-8") == "<p>the last good report</p>"
    record = read_provenance(folder)
    assert record["status"] == "failed" and record["memory_limit_mb"] == 4096
    assert record["error"]["ename"] == "MemoryError"
    failed = (folder / "toy.failed.ipynb").read_text(encoding="utf-8")
    assert "limit MiB 4096 4096" in failed  # soft and hard: the notebook cannot lift it
    assert resource.getrlimit(resource.RLIMIT_AS)[0] == resource.RLIM_INFINITY  # not this process
    # a kernel that dies is a failed run too, in one line that names the cap
    result = run_one("toy", {"data": str(data), "label": "killed"}, reports_dir=reports)
    assert result.status == "failed" and result.error.startswith("DeadKernelError: ")
    assert "at most 4096 MiB" in result.error and "\n" not in result.error
    assert "Kernel died" not in capfd.readouterr().err  # no log lines beside the one-line error
    assert (folder / "report.html").read_text(encoding="utf-8") == "<p>the last good report</p>"
    assert read_provenance(folder)["status"] == "failed"


def test_the_memory_cap_default_override_and_refusals(fake, monkeypatch):
    spec, data, reports = fake
    monkeypatch.delenv(runs.MEMORY_ENV, raising=False)
    assert runs.resolve_memory_limit() == runs.DEFAULT_MEMORY_LIMIT_MB == 8192
    assert runs.resolve_memory_limit(2048) == 2048 and runs.resolve_memory_limit(0) is None
    monkeypatch.setenv(runs.MEMORY_ENV, "0")
    assert runs.resolve_memory_limit() is None
    assert runs.kernel_arguments(None) == list(runs.KERNEL_ARGUMENTS)
    assert "RLIMIT_AS, (2147483648, 2147483648)" in runs.kernel_arguments(2048)[-1]
    for bad in ("lots", "-5", "100"):
        monkeypatch.setenv(runs.MEMORY_ENV, bad)
        with pytest.raises(InputError, match="DI_MEMORY_LIMIT_MB: expected a whole number"):
            run_one(spec, {"data": str(data)}, reports_dir=reports)
    monkeypatch.delenv(runs.MEMORY_ENV)
    assert (
        read_provenance(run_one(spec, {"data": str(data)}, reports_dir=reports).folder)[
            "memory_limit_mb"
        ]
        == 8192
    )
    result = run_one(
        spec, {"data": str(data), "label": "x"}, reports_dir=reports, memory_limit_mb=0
    )
    assert read_provenance(result.folder)["memory_limit_mb"] is None
