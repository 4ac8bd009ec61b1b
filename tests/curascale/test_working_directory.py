"""curascale works from any working directory, even one holding its own `fits/`, `scaling/`,
`curation/` and `runs_db/` folders (the README's API example saves fits to ./fits)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def crowded(tmp_path):
    """A folder whose sub-folders are named like the installed top-level packages; `fits/` is even
    a package of the user's own, which Python imports first from here."""
    for name in ("fits/reference", "scaling", "curation", "runs_db"):
        (tmp_path / name).mkdir(parents=True)
    (tmp_path / "fits" / "__init__.py").write_text("")
    (tmp_path / "fits" / "reference" / "mine.json").write_text("{}")
    (tmp_path / "runs.csv").write_text("params,tokens,loss\n1e8,2e9,3.1\n2e8,4e9,2.9\n")
    return tmp_path


def run(args, cwd):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd, env=env)


def test_api_finds_shipped_fits_and_schema_from_a_crowded_folder(tmp_path):
    folder = crowded(tmp_path)
    program = (
        "import json; from scaling.reference import load_fit; from runs_db import connect;"
        "fit = load_fit('reference/tmars-imagenet-utility'); r = connect('r.duckdb'); r.ingest('runs.csv');"
        "print(json.dumps([fit.law, len(r.runs())]))"
    )
    result = run(["-c", program], folder)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["data_filtering_utility", 2]


def test_cli_from_a_crowded_folder(tmp_path):
    folder = crowded(tmp_path)
    main = "from curascale.cli.app import main, plan_main; import sys; (plan_main if sys.argv.pop(1) == 'plan' else main)()"
    plan = run(["-c", main, "plan", "--compute", "128M", "--json"], folder)
    assert plan.returncode == 0, plan.stderr
    assert json.loads(plan.stdout)["fit"] == "reference/tmars-imagenet-utility"
    ingest = run(["-c", main, "curascale", "runs", "ingest", "runs.csv", "--db", "r.duckdb"], folder)
    assert ingest.returncode == 0 and "2 new rows" in ingest.stdout, ingest.stderr
