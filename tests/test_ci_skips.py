"""CI (CI=true) fails a test module skipped whole for a missing import, and a test skipped inside its
body for one, except the optional gcld3 build that .ci/run reports; outside CI both are skips."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def run_pytest(folder: Path, ci: bool) -> subprocess.CompletedProcess:
    env = {**os.environ, "CI": "true" if ci else ""}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--continue-on-collection-errors", str(folder)],
                          capture_output=True, text=True, env=env, cwd=folder)


def test_skips_for_a_missing_import_fail_in_ci(tmp_path):
    shutil.copy(TESTS / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "paths.py").write_text((TESTS / "paths.py").read_text())
    (tmp_path / "test_module_skip.py").write_text('import pytest\n\npytest.importorskip("no_such_extra_abc")\n\n\ndef test_never():\n    pass\n')
    (tmp_path / "test_body_skip.py").write_text('import pytest\n\n\ndef test_body():\n    pytest.importorskip("no_such_extra_xyz")\n\n\n'
                                                'def test_optional():\n    pytest.importorskip("gcld3.no_such_part")\n\n\n'
                                                'def test_plain_skip():\n    pytest.skip("root writes into read-only folders")\n')
    ci = run_pytest(tmp_path, ci=True)
    assert ci.returncode != 0
    assert "test_module_skip.py: module skipped in CI" in ci.stdout and "test_body_skip.py::test_body: skipped in CI (could not import 'no_such_extra_xyz'" in ci.stdout
    assert "1 failed" in ci.stdout and "2 skipped" in ci.stdout and "1 error" in ci.stdout, ci.stdout  # the optional import and the plain skip stay skips
    local = run_pytest(tmp_path, ci=False)
    assert local.returncode == 0 and "4 skipped" in local.stdout, local.stdout
