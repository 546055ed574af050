"""Provenance records, content hashes, and published files free of machine details.

One real QoL run (one small oblast, demo data written outside the project) is
shared by the tests that read its outputs.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import re
from datetime import datetime
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from research_lib.demo.survey import write_demo_data
from research_lib.paths import NOTEBOOKS_DIR, PROJECT_ROOT
from research_lib.render.reporting import REPORT_CSS
from research_lib.runner import runs
from research_lib.runner.provenance import (
    LOCK_FILE,
    VERSIONED_PACKAGES,
    code_hash,
    git_state,
    locked_versions,
    package_versions,
    path_replacements,
    public_path,
    read_provenance,
    run_hash,
    scrub_notebook,
    scrub_text,
    sha256_file,
    tree_hash,
    write_provenance,
)
from research_lib.runner.runs import STUDIES, Study, run_one

# --------------------------------------------------------------------------- hashes


def test_sha256_file_matches_hashlib(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"abc" * 1_000_000)
    assert sha256_file(path, chunk=4096) == hashlib.sha256(b"abc" * 1_000_000).hexdigest()


def test_code_hash_follows_contents_names_and_new_files(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("x = 1\n")
    (tmp_path / "pkg" / "__pycache__").mkdir()
    (tmp_path / "pkg" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0")
    first = code_hash([tmp_path / "pkg"])
    (tmp_path / "pkg" / "__pycache__" / "b.cpython-311.pyc").write_bytes(b"\1")
    assert code_hash([tmp_path / "pkg"]) == first  # bytecode is not source
    (tmp_path / "pkg" / "a.py").write_text("x = 2\n")
    second = code_hash([tmp_path / "pkg"])
    assert second != first
    (tmp_path / "pkg" / "labels.yaml").write_text("a: b\n")
    assert code_hash([tmp_path / "pkg"]) != second
    (tmp_path / "pkg" / "labels.yaml").rename(tmp_path / "pkg" / "other.yaml")
    assert code_hash([tmp_path / "pkg"]) not in {first, second}


def test_tree_hash_of_an_input_folder(tmp_path):
    (tmp_path / "a.xlsx").write_bytes(b"\x01")
    (tmp_path / ".hidden").write_text("x")
    first = tree_hash(tmp_path)
    (tmp_path / ".hidden").write_text("y")  # hidden files are not inputs
    assert tree_hash(tmp_path) == first
    (tmp_path / "a.xlsx").write_bytes(b"\x02")  # any kind of file is
    assert tree_hash(tmp_path) != first
    assert tree_hash(tmp_path, {".csv"}) == tree_hash(tmp_path / "absent")


def test_default_code_hash_covers_the_library_and_reference_data():
    assert re.fullmatch(r"[0-9a-f]{64}", code_hash())


def test_run_hash_changes_with_each_part():
    base = ({"oblast": "vidin"}, {"responses": "a" * 64}, "b" * 64, "c" * 64)
    hashes = {
        run_hash(*base),
        run_hash({"oblast": "plovdiv"}, *base[1:]),
        run_hash(base[0], {"responses": "f" * 64}, *base[2:]),
        run_hash(*base[:2], "e" * 64, base[3]),
        run_hash(*base[:3], "d" * 64),
    }
    assert len(hashes) == 5
    assert run_hash(*base) == run_hash({"oblast": "vidin"}, {"responses": "a" * 64}, *base[2:])


def test_package_versions_and_git_state():
    versions = package_versions()
    for name in (
        "python",
        "pandas",
        "numpy",
        "statsmodels",
        "pingouin",
        "papermill",
        "research_lib",
    ):
        assert versions[name], name
    assert package_versions(["surely-not-installed-xyz"])["surely-not-installed-xyz"] is None
    state = git_state()
    if state is not None:  # a git checkout; an exported tarball has none
        assert re.fullmatch(r"[0-9a-f]{40}", state["commit"]) and isinstance(state["dirty"], bool)
    assert git_state.__wrapped__(Path("/")) is None or Path("/.git").exists()


def test_package_versions_name_the_lock_and_what_is_off_it(tmp_path):
    installed = package_versions()
    lock = tmp_path / "requirements.lock"
    lock.write_text(
        f"numpy==0.0.1 \\\n    --hash=sha256:{'0' * 64}\n"
        f"Pandas=={installed['pandas']} ; python_version >= '3.11'\n"
        "pandas==0.0.2 ; python_version < '3.11'\n"  # a second pin: the first counts
        "# scipy==0.0.3 is a comment\n",
        encoding="utf-8",
    )
    assert locked_versions(lock) == {"numpy": "0.0.1", "pandas": installed["pandas"]}
    versions = package_versions(lock=lock)
    assert versions["lock_sha256"] == sha256_file(lock)
    assert versions["lock_mismatches"] == f"numpy {installed['numpy']} (locked 0.0.1)"
    for absent in (None, tmp_path / "absent.lock"):
        off = package_versions(lock=absent)
        assert off["lock_sha256"] is None and off["lock_mismatches"] is None
    # the project's own lock, which make setup installs from
    assert installed["lock_sha256"] == sha256_file(LOCK_FILE)
    assert isinstance(installed["lock_mismatches"], str)


def _pyproject_requirements() -> dict[str, str]:
    """``{name: specifier}`` of pyproject.toml's dependencies and its dev extra."""
    import tomllib

    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    lines = [
        *project["project"]["dependencies"],
        *project["project"]["optional-dependencies"]["dev"],
    ]
    return {re.split(r"[<>=!~ ;\[]", line, maxsplit=1)[0]: line for line in lines}


def test_lock_is_true_to_pyproject_and_environment_yml():
    """Every dependency is pinned, hashed, inside its range; conda's list is pyproject's."""
    import yaml
    from packaging.requirements import Requirement

    wanted = _pyproject_requirements()
    locked = locked_versions(LOCK_FILE)
    for name, line in wanted.items():
        requirement = Requirement(line)
        key = re.sub(r"[-_.]+", "-", name).lower()
        assert key in locked, f"{name} is not in {LOCK_FILE.name}: make lock"
        assert requirement.specifier.contains(locked[key], prereleases=True), (line, locked[key])
    for name in (*VERSIONED_PACKAGES[1:], "lifelines", "pip"):
        assert re.sub(r"[-_.]+", "-", name).lower() in locked, name
    text = LOCK_FILE.read_text(encoding="utf-8")
    pins = re.findall(r"^[A-Za-z0-9][^\n]*==[^\n]*$", text, flags=re.MULTILINE)
    assert pins and all(pin.endswith("\\") for pin in pins), "every pin carries its hashes"

    conda = yaml.safe_load((PROJECT_ROOT / "environment.yml").read_text(encoding="utf-8"))
    listed = []
    for item in conda["dependencies"]:
        listed.extend(item["pip"] if isinstance(item, dict) else [item])
    listed = [
        re.sub(r"\s+#.*", "", item).strip()
        for item in listed
        if re.split(r"[<>=!~ ]", item, maxsplit=1)[0] not in {"python", "pip", "-e"}
    ]
    assert sorted(listed) == sorted(wanted.values())


def test_provenance_round_trip(tmp_path):
    write_provenance(tmp_path, {"status": "ok", "name": "Пловдив"})
    assert read_provenance(tmp_path) == {"status": "ok", "name": "Пловдив"}
    assert "Пловдив" in (tmp_path / "provenance.json").read_text(encoding="utf-8")
    assert read_provenance(tmp_path / "absent") is None
    (tmp_path / "provenance.json").write_text("{half", encoding="utf-8")
    assert read_provenance(tmp_path) is None


# --------------------------------------------------------------------------- scrubbing


def test_public_path_is_never_a_machine_path(tmp_path):
    assert public_path(PROJECT_ROOT / "data" / "demo" / "survey.csv") == "data/demo/survey.csv"
    assert public_path("data/x.csv") == "data/x.csv"
    assert public_path(tmp_path / "reports" / "qol" / "all", [tmp_path]) == "reports/qol/all"
    assert public_path(tmp_path / "elsewhere" / "survey.csv") == "survey.csv"


def test_scrub_text_and_notebook(tmp_path):
    home = str(Path.home())
    pairs = path_replacements([(tmp_path, "")])
    text = f'File {PROJECT_ROOT}/research_lib/io/oblasts.py, {tmp_path}/out/x.csv, {home}/.cache/y, "{PROJECT_ROOT}"'
    clean = scrub_text(text, pairs)
    assert "research_lib/io/oblasts.py" in clean and "out/x.csv" in clean
    assert str(PROJECT_ROOT) not in clean and str(tmp_path) not in clean
    if home not in {"/", ""}:
        assert home + "/" not in clean and "~/.cache/y" in clean

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(f'output_dir = "{tmp_path}/out"')
    cell.outputs = [
        nbformat.v4.new_output(
            "error",
            ename="InputError",
            evalue=f"{PROJECT_ROOT}/data/x.csv: empty",
            traceback=[f"File {PROJECT_ROOT}/research_lib/io/readers.py:10"],
        ),
        nbformat.v4.new_output("stream", name="stdout", text=f"wrote {tmp_path}/out\n"),
    ]
    nb.cells = [cell]
    nb.metadata["papermill"] = {
        "input_path": str(NOTEBOOKS_DIR / "qol_study.ipynb"),
        "output_path": str(tmp_path / "out" / "qol.ipynb"),
        "parameters": {"output_dir": f"{tmp_path}/out"},
        "environment_variables": {"HOME": home},
    }
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, str(path))
    scrub_notebook(path, pairs, input_path="notebooks/qol_study.ipynb", output_path="out/qol.ipynb")
    raw = path.read_text(encoding="utf-8")
    assert str(PROJECT_ROOT) not in raw and str(tmp_path) not in raw
    meta = json.loads(raw)["metadata"]["papermill"]
    assert meta["input_path"] == "notebooks/qol_study.ipynb"
    assert meta["parameters"]["output_dir"] == "out"
    assert meta["environment_variables"] == {}


# --------------------------------------------------------------------------- a real run


@pytest.fixture(scope="module")
def qol_run(tmp_path_factory, qol_codebook):
    """One real QoL run for Vidin on demo data that lives outside the project."""
    data = write_demo_data(tmp_path_factory.mktemp("input"), qol_codebook, seed=11)
    reports = tmp_path_factory.mktemp("out") / "reports"
    result = run_one(
        "qol", {"responses": str(data["survey"]), "oblast": "Видин"}, reports_dir=reports
    )
    return result, data, reports


def test_real_run_outputs_and_provenance(qol_run, qol_codebook):
    result, data, reports = qol_run
    assert result.status == "done", result.error
    folder = reports / "qol" / "vidin"
    assert {p.name for p in folder.iterdir()} >= {
        "report.html",
        "qol.ipynb",
        "published.csv",
        "provenance.json",
    }
    record = read_provenance(folder)
    assert record["status"] == "ok" and record["error"] is None
    assert record["study"] == "qol" and record["oblast"] == "BG311"
    assert record["oblast_slug"] == "vidin"
    params = record["parameters"]
    assert params["oblast"] == "vidin" and params["min_cell"] == 5 and params["language"] == "bg"
    assert params["responses"] == "survey.csv"  # outside the project: the name only
    assert params["codebook"] == "surveys/qol-child-v1.yaml"
    assert params["output_dir"] == "reports/qol/vidin"
    assert record["inputs"]["responses"]["sha256"] == sha256_file(data["survey"])
    assert record["inputs"]["codebook"]["sha256"] == sha256_file(
        PROJECT_ROOT / "surveys" / "qol-child-v1.yaml"
    )
    assert record["notebook"] == {
        "path": "notebooks/qol_study.ipynb",
        "sha256": sha256_file(NOTEBOOKS_DIR / "qol_study.ipynb"),
    }
    assert re.fullmatch(r"[0-9a-f]{64}", record["code_sha256"])
    assert re.fullmatch(r"[0-9a-f]{64}", record["run_hash"])
    for name in ("pandas", "numpy", "statsmodels", "pingouin", "papermill", "research_lib"):
        assert record["versions"][name]
    assert record["versions"]["lock_sha256"] == sha256_file(LOCK_FILE)
    assert record["git"] is None or re.fullmatch(r"[0-9a-f]{40}", record["git"]["commit"])
    start = datetime.fromisoformat(record["start_time"])
    end = datetime.fromisoformat(record["end_time"])
    assert start <= end and start.tzinfo is not None
    assert 0 < record["duration_s"] < 120
    assert record["outputs"] == ["qol.ipynb", "report.html", "published.csv"]
    assert record["headline"]["table"] == STUDIES["qol"].headline.table
    # the executed notebook names the notebook and its output project-relatively
    meta = nbformat.read(str(folder / "qol.ipynb"), as_version=4).metadata["papermill"]
    assert meta["input_path"] == "notebooks/qol_study.ipynb"
    assert meta["output_path"] == "reports/qol/vidin/qol.ipynb"
    assert meta["parameters"]["responses"] == "survey.csv"
    # and the report shows the study
    assert "Видин" in (folder / "report.html").read_text(encoding="utf-8")


def _published_files(reports: Path) -> list[Path]:
    return sorted(p for p in reports.rglob("*") if p.is_file())


def _username_hits(text: str, user: str, allowed: str) -> list[str]:
    """Where ``user`` appears as a path component, a login, or a word not in the templates.

    A short account name can be an ordinary word ("root" in ":root" in the CSS
    and in the notebook's "project root"): those are in ``allowed`` (the
    notebook's sources and the report CSS) and only path-like uses count.
    """
    escaped = re.escape(user)
    patterns = [rf"[/\\]{escaped}(?:[/\\]|\b)", rf"\b{escaped}@", rf"~{escaped}\b"]
    if not re.search(rf"\b{escaped}\b", allowed):
        patterns.append(rf"\b{escaped}\b")
    return [m.group(0) for p in patterns for m in re.finditer(p, text)]


def test_no_machine_path_user_name_or_respondent_id_in_any_output(qol_run):
    result, data, reports = qol_run
    files = _published_files(reports)
    assert {p.name for p in files} >= {
        "report.html",
        "qol.ipynb",
        "published.csv",
        "provenance.json",
        "index.html",
    }
    survey = pd.read_csv(data["survey"], dtype=str)
    ids = set(survey["respondent_id"].dropna())
    assert len(ids) > 1000
    user = getpass.getuser()
    home = str(Path.home())
    allowed = (NOTEBOOKS_DIR / "qol_study.ipynb").read_text(encoding="utf-8") + REPORT_CSS
    machine = {str(PROJECT_ROOT), str(PROJECT_ROOT.resolve()), str(data["survey"].parent)}
    machine.add(str(reports.parent))
    if home not in {"/", ""}:
        machine.add(home)
    for path in files:
        content = path.read_text(encoding="utf-8")
        for needle in machine:
            assert needle not in content, f"{needle} in {path.name}"
        assert not _username_hits(content, user, allowed), path.name
        # the run's temporary folder (.vidin.<random>.tmp) is never named: it reads as the target
        assert not re.search(r"\.vidin\.\w+\.tmp", content), path.name
        tokens = set(re.findall(r"R\d{4}-\d{5}", content))
        assert not tokens & ids, f"respondent ids in {path.name}: {sorted(tokens & ids)[:3]}"
        assert not any(i in content for i in ids), path.name


def test_tracebacks_of_a_failed_run_are_scrubbed(tmp_path, monkeypatch):
    """A library error raised in the kernel names absolute source files; they are made relative."""
    nb = nbformat.v4.new_notebook()
    parameters = nbformat.v4.new_code_cell('oblast = "all"\noutput_dir = "reports/x/all"\n')
    parameters.metadata["tags"] = ["parameters"]
    nb.cells = [
        parameters,
        nbformat.v4.new_code_cell(
            "from research_lib.io.oblasts import resolve_oblast\nresolve_oblast('Нарния')"
        ),
    ]
    nb.metadata["kernelspec"] = {
        "name": runs.KERNEL_NAME,
        "display_name": "x",
        "language": "python",
    }
    nbformat.write(nb, str(tmp_path / "fails.ipynb"))
    spec = Study("fails", str(tmp_path / "fails.ipynb"), "qol.title")
    monkeypatch.setitem(STUDIES, "fails", spec)
    reports = tmp_path / "reports"
    result = run_one(spec, {"oblast": "vidin"}, reports_dir=reports)
    assert result.status == "failed"
    assert result.error.startswith("InputError: unknown oblast 'Нарния'. Accepted: BG311")
    # the failed notebook is kept beside (not instead of) any previous report
    executed = (reports / "fails" / "vidin" / "fails.failed.ipynb").read_text(encoding="utf-8")
    assert "research_lib/io/oblasts.py" in executed  # the traceback is kept, relative
    for path in _published_files(reports):
        content = path.read_text(encoding="utf-8")
        assert str(PROJECT_ROOT) not in content and str(tmp_path) not in content, path.name
    record = read_provenance(reports / "fails" / "vidin")
    assert record["status"] == "failed" and record["error"]["ename"] == "InputError"
    assert record["outputs"] == [] and record["failed_notebook"] == "fails.failed.ipynb"
    assert record["previous"] is None  # nothing to keep: the first run failed


def test_study_registry_is_generic():
    spec = STUDIES["qol"]
    assert spec.notebook_path == NOTEBOOKS_DIR / "qol_study.ipynb"
    assert spec.input_files == ("responses", "codebook")
    assert (spec.headline.table, spec.headline.group) == ("means_by_placement_type", "cnst")
    assert set(spec.headline.label) == {"bg", "en"}
    other = Study("placements", "placements.ipynb", "qol.title", input_files=("episodes",))
    assert other.notebook_path.parent == NOTEBOOKS_DIR and other.headline is None
    assert runs.KERNEL_NAME == "research-lib"
