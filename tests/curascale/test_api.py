"""The public package: one import, names re-exported lazily, no global state on import."""

import subprocess
import sys


def test_public_names_resolve_to_the_library():
    import curascale as cs
    from scaling.fit import Fit, fit
    from scaling.plan import plan_data, plan_model

    assert cs.fit is fit and cs.Fit is Fit and cs.plan_data is plan_data and cs.plan_model is plan_model
    assert issubclass(cs.CurascaleError, ValueError)
    assert set(cs.__all__) >= {"fit", "Fit", "load_fit", "plan_data", "plan_model", "Registry", "connect", "Note"}


def test_importing_curascale_is_light():
    program = "import sys, curascale; print(sorted(m for m in ('jax', 'duckdb', 'pandas', 'torch') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_a_library_error_is_one_line_and_exit_2_at_the_boundary(tmp_path):
    program = "from curascale.cli.app import main; main()"
    result = subprocess.run([sys.executable, "-c", program, "predict", str(tmp_path / "missing.json"), "--at", "params=1"], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "no such fit file" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_duckdb_error_is_one_line_and_exit_2_at_the_boundary(tmp_path):
    bad = tmp_path / "not-a-registry.duckdb"
    bad.write_bytes(b"this is not a database file" * 100)
    program = "from curascale.cli.app import main; main()"
    result = subprocess.run([sys.executable, "-c", program, "runs", "list", "--db", str(bad)], capture_output=True, text=True)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and result.stderr.startswith("error:")
