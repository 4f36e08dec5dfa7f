"""``notebooks/pareto.ipynb`` runs headlessly, top to bottom, the way a user runs it: from a copy in a project's
``notebooks/`` folder, its parameters cell naming the study as the default does (a relative ``studies/<name>``),
with Jupyter's working folder (``notebooks/``) and with the project root. It shows the front, the tables and an
exported network, prints every cost with its resolution, and writes no warning."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from nas.cost import format_count
from nas.search import main as search
from nas.study import open_study

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "pareto.ipynb"
NAME = "mobile_60M_digits"
TINY = ["--epochs", "1", "--train-size", "150", "--val-size", "60", "--batch-size", "32", "--no-progress",
        "--dataset", "digits", "--space", "mobile", "--budget", "60M", "--trials", "3", "--references", "feasible"]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project folder as a user has one: ``studies/<name>/`` written by a tiny search, and the notebook in
    ``notebooks/``."""
    root = tmp_path_factory.mktemp("project")
    assert search(["--studies-dir", str(root / "studies"), *TINY]) == 0
    (root / "notebooks").mkdir()
    shutil.copy(NOTEBOOK, root / "notebooks" / NOTEBOOK.name)
    return root


@pytest.mark.parametrize("cwd", ["notebooks", "."], ids=["jupyter-in-notebooks", "project-root"])
def test_notebook_runs_against_a_study(project: Path, cwd: str) -> None:
    study = open_study(project / "studies" / NAME)
    notebook = nbformat.read(project / "notebooks" / NOTEBOOK.name, as_version=4)
    parameters = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(parameters) == 1 and parameters[0].source.startswith("STUDY = "), "one cell at the top names the study"
    default = parameters[0].source
    parameters[0].source = re.sub(r'^STUDY = "studies/[^"/]+"', f'STUDY = "studies/{NAME}"', default)
    assert parameters[0].source != default, f"the default names a relative studies/<name>: {default!r}"
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(project / cwd)}}).execute()

    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    assert not [o.text for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    shown = [o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for o in outputs]
    assert not [t for t in shown if re.search(r"\w*Warning\b", t)], "no warning in any output"

    plots = [o.data["application/vnd.plotly.v1+json"] for o in outputs
             if o.output_type == "display_data" and "application/vnd.plotly.v1+json" in o.data]
    assert len(plots) == 3, "the front, the hypervolume and the choices, inline"
    front = plots[0]["data"][1]
    assert front["name"] == f"Pareto front ({len(study.pareto())})"
    references = plots[0]["data"][2]["text"]
    assert "mobilenet_v3_small" in references

    side = study.attrs["target_resolution"]  # where the search counted costs
    trained = study.attrs["protocol"]["resolution"]
    assert (side, trained) == (224, 32)
    tables = [o.data["text/html"] for o in outputs if o.output_type == "execute_result" and "text/html" in o.data]
    pareto_table = next(t for t in tables if "genome" in t)
    for genome in study.pareto().genome:
        assert genome[:40] in pareto_table  # pandas shortens long cells
    assert sum(f"macs at {side}×{side}" in t for t in tables) == 2, "the MACs columns name their resolution"

    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert f"budget 60M macs at {side}×{side} (trained at {trained}×{trained})" in text
    best = int(study.pareto().sort_values("accuracy").number.iloc[-1])
    printed = re.search(rf"^{re.escape(study.label(best))}: (\S+) MACs at (\d+)×(\d+) \(the search's cost; "
                        rf"trained at (\d+)×(\d+)", text, re.MULTILINE)
    assert printed, text
    assert printed[1] == format_count(study.trial(best).user_attrs["cost"]["macs"]), "the cost the search recorded"
    assert printed.groups()[1:] == (str(side),) * 2 + (str(trained),) * 2
    assert f"Cost:      {printed[1]} MACs at {side}×{side}" in text, "the exported module says the same"
    assert "same outputs as the study's model: True" in text


def test_notebook_is_stored_without_outputs() -> None:
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    assert not [c for c in cells if c.get("outputs") or c.get("execution_count")], \
        "clear the outputs before committing the notebook"
