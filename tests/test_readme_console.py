"""Every ``console`` sample in the README and docs is what the command really prints, whole."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

import tconv
from tconv.cli import main

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def console_samples() -> list[tuple[str, str, str]]:
    """``(file, command, printed text)`` for each ``$ tconv ...`` line of a ``console`` block."""
    samples = []
    for path in DOCS:
        for block in re.findall(r"```console\n(.*?)```", path.read_text(), re.S):
            for command, output in re.findall(r"^\$ (tconv .*)\n((?:(?!\$ ).*\n)*)", block, re.M):
                samples.append((path.name, command, output))
    return samples


def test_there_are_samples_to_check():
    assert len(console_samples()) >= 3


@pytest.mark.parametrize("where, command, expected", console_samples(), ids=lambda v: str(v)[:40])
def test_console_sample_is_the_real_output(where, command, expected, capsys):
    assert main(shlex.split(command)[1:]) == 0
    assert capsys.readouterr().out == expected, f"{where}: `{command}` prints something else"


def test_readme_lists_the_algorithms_in_order():
    listed = re.search(r"`tconv.ALGORITHMS` is `(\(.*?\))`", (ROOT / "README.md").read_text(), re.S).group(1)
    assert eval(listed.replace("\n", " ")) == tconv.ALGORITHMS
