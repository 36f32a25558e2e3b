"""The README's library example runs as written, with the real embedded model."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_library_example_runs_and_answers():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    assert blocks, "the README has a python example"
    r = subprocess.run([sys.executable, "-c", blocks[0]], capture_output=True, text=True,
                       cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    first = r.stdout.splitlines()[0]
    assert "Odile Maren" in first
    assert "'goal': 'Who designed Skerry Point Lighthouse?'" in r.stdout
