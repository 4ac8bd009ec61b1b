"""Run the CLI as a user does: a fresh process, `curascale ARGS...` (or `plan-curation`)."""

import subprocess
import sys

PROGRAM = "from curascale.cli.app import main, plan_main; import sys; name = sys.argv.pop(1); (plan_main if name == 'plan-curation' else main)()"


def run(*args, check=True, cwd=None):
    result = subprocess.run([sys.executable, "-c", PROGRAM, *map(str, args)], capture_output=True, text=True, cwd=cwd)
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}: {result.stderr[-3000:]}")
    return result


def curascale(*args, **kwargs):
    return run("curascale", *args, **kwargs)
