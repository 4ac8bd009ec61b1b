"""docs/laws.md covers every law `curascale laws` lists, ships inside the package, and
`curascale laws LAW` prints the law's form, inputs, parameters and source."""

import re
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from curascale.cli.app import cli
from curascale.docs import law_sections, laws_text, section_for
from curascale.errors import CurascaleError
from paths import ROOT
from scaling.laws import all_laws

LAWS = sorted(all_laws())


def test_the_packaged_copy_is_the_project_page():
    assert laws_text() == (ROOT / "docs" / "laws.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", LAWS)
def test_every_listed_law_has_its_section(name):
    law = all_laws()[name]
    text = section_for(law.section)
    assert f"`{name}`" in text  # the section the law cites names it
    assert re.search(r"Source:|our form", text, re.IGNORECASE)  # and says where the form comes from
    for column in law.inputs:
        assert column in laws_text()  # every input is a documented registry column


def test_sections_are_numbered_one_to_seven():
    assert sorted(law_sections()) == list(range(1, 8))
    with pytest.raises(CurascaleError, match="§9"):
        section_for("docs/laws.md §9")


def test_code_cites_docs_laws_md_for_these_laws():
    stale = [law.name for law in all_laws().values() if not law.section.startswith("docs/laws.md §")]
    assert stale == []


def test_laws_command_prints_one_law():
    result = CliRunner().invoke(cli, ["laws", "chinchilla"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "L(N, D) = E + A / N^alpha + B / D^beta" in result.output
    assert "Hoffmann et al. 2022" in result.output and "inputs: params, tokens; target: loss" in result.output
    assert all(p in result.output for p in ("alpha", "beta", "irreducible loss"))
    fixed = CliRunner().invoke(cli, ["laws", "data_constrained"], terminal_width=200)
    assert "fixed at 520.825" in fixed.output  # exp(6.255414), the published base


def test_laws_command_rejects_an_unknown_law():
    result = subprocess.run([sys.executable, "-c", "from curascale.cli.app import main; main()", "laws", "chinchila"], capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.startswith("error: unknown law 'chinchila'") and "Traceback" not in result.stderr
