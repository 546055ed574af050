"""Study runs: parameter checking before any kernel, batches with a failing oblast, skipping.

The batch tests run a tiny study notebook written into ``tmp_path`` (it reads
one input file, writes one ``published.csv`` row and raises for the oblast
named in ``fail_for``), so each run costs a kernel start and little else.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from research_lib import runs
from research_lib.cli import main
from research_lib.errors import InputError
from research_lib.provenance import read_provenance
from research_lib.runs import (
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
from research_lib.regions import resolve_scope

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
    monkeypatch.setattr(runs, "code_hash", lambda *a, **k: "c" * 64)  # others edit the code
    data = tmp_path / "input.txt"
    data.write_text("hello", encoding="utf-8")
    return spec, data, tmp_path / "reports"


@pytest.fixture
def no_kernel(monkeypatch):
    """Fail the test if anything tries to execute a notebook."""

    def refuse(*args, **kwargs):
        raise AssertionError("a kernel was started")

    monkeypatch.setattr(runs, "_execute", refuse)
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


def test_skip_when_unchanged_and_rerun_when_anything_changes(toy, tmp_path, monkeypatch):
    spec, data, reports = toy
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

    monkeypatch.setattr(runs, "code_hash", lambda *a, **k: "d" * 64)  # the library's code
    assert once() == "done"
    assert once() == "skipped"

    (reports / "toy" / "all" / "report.html").unlink()  # an output gone missing
    assert once() == "done"


def test_an_interrupted_run_is_not_unchanged(toy):
    spec, data, reports = toy
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
