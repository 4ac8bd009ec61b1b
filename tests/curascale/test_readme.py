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


def tour_commands(section: str) -> list[str]:
    """The commands of the CLI tour's paragraph that starts with the comment `section`, up to the
    first blank line (comment lines and trailing comments dropped)."""
    tour = re.search(r"## A tour of the CLI.*?```bash\n(.*?)```", README.read_text(), flags=re.S).group(1)
    paragraph = tour[tour.index(section):].split("\n\n")[0]
    return [line.split("  #")[0].strip() for line in paragraph.splitlines() if line.strip() and not line.startswith("#")]


def test_the_readme_registry_tour_runs_in_order(tmp_path):
    """The tour's registry paragraph, command by command in a fresh folder: the shipped dataset,
    then the example DataComp run folder written and ingested (38 tasks and their average)."""
    import shlex

    commands = tour_commands("# the run registry")
    assert any(c.startswith("curascale runs ingest datacomp/") for c in commands)
    outputs = []
    for command in commands:
        words = shlex.split(command)
        assert words[0] == "curascale", command
        result = subprocess.run([sys.executable, "-c", "from curascale.cli.app import main; main()", *words[1:]], cwd=tmp_path,
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, (command, result.stderr[-2000:])
        outputs.append(result.stdout)
    ingested = outputs[[c.startswith("curascale runs ingest datacomp/") for c in commands].index(True)]
    assert "39 evals" in ingested
    shown = outputs[commands.index("curascale runs show small_scale")]
    assert '"samples_seen": 12800000.0' in shown and '"task": "imagenet1k"' in shown and shown.count('"task":') == 39  # 38 tasks and their average
