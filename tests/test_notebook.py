"""``notebooks/pareto.ipynb`` runs headlessly, top to bottom, against a small study made here, and shows
the front, the tables and an exported network."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from nas.search import main as search
from nas.study import open_study

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "pareto.ipynb"
TINY = ["--epochs", "1", "--train-size", "150", "--val-size", "60", "--batch-size", "32", "--no-progress",
        "--dataset", "digits", "--space", "mobile", "--budget", "60M", "--trials", "3", "--references", "feasible"]


def test_notebook_runs_against_a_study(tmp_path: Path) -> None:
    assert search(["--studies-dir", str(tmp_path / "studies"), *TINY]) == 0
    folder = tmp_path / "studies" / "mobile_60M_digits"
    study = open_study(folder)

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    parameters = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(parameters) == 1 and parameters[0].source.startswith("STUDY = "), "one cell at the top names the study"
    parameters[0].source = f"STUDY = {str(folder)!r}"
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()

    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    plots = [o.data["application/vnd.plotly.v1+json"] for o in outputs
             if o.output_type == "display_data" and "application/vnd.plotly.v1+json" in o.data]
    assert len(plots) == 3, "the front, the hypervolume and the choices, inline"
    front = plots[0]["data"][1]
    assert front["name"] == f"Pareto front ({len(study.pareto())})"
    references = plots[0]["data"][2]["text"]
    assert "mobilenet_v3_small" in references

    tables = [o.data["text/html"] for o in outputs if o.output_type == "execute_result" and "text/html" in o.data]
    pareto_table = next(t for t in tables if "genome" in t)
    for genome in study.pareto().genome:
        assert genome[:40] in pareto_table  # pandas shortens long cells
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "same outputs as the study's model: True" in text


def test_notebook_is_stored_without_outputs() -> None:
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    assert not [c for c in cells if c.get("outputs") or c.get("execution_count")], \
        "clear the outputs before committing the notebook"
