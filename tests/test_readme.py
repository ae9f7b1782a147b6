"""The README's Quickstart is what CI runs: two commands, the same two."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def quickstart_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quickstart", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "the Quickstart section opens with a fenced bash block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_quickstart_is_two_commands_tour_then_tests():
    install_and_tour, tests = quickstart_commands()
    assert install_and_tour.endswith("tconv tour") and '".[fast]"' in install_and_tour
    assert '".[test]"' in tests and tests.endswith("python -m pytest")


def test_ci_runs_exactly_the_quickstart():
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines()
          if line.strip() and not line.startswith(("#", "set ", "cd "))]
    assert ci == quickstart_commands()
