"""The README's Python API section runs as written, in a fresh folder."""

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_api_section_runs(tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README.md has no python block"
    code = blocks[0]
    assert "import curascale as cs" in code and "from scaling" not in code and "import runs_db" not in code
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "top" in result.stdout  # the data plan's best candidate is printed
