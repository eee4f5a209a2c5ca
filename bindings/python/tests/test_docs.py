"""The Python examples of the documentation run as they are written, from a directory that is
not the checkout: the example of the Python section of docs/bindings.md, and those of the
package's README."""

import re
import subprocess
import sys

from conftest import REPOSITORY

PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def section(text, heading):
    """The text under a `## heading`, up to the next heading of that level."""
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def run(code, directory):
    script = directory / "example.py"
    script.write_text(code, encoding="utf-8")
    return subprocess.run(
        [sys.executable, str(script)], cwd=directory, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_python_example_of_docs_bindings_runs_from_any_directory(tmp_path):
    blocks = PYTHON_BLOCK.findall(section((REPOSITORY / "docs" / "bindings.md").read_text(encoding="utf-8"), "Python"))
    assert len(blocks) == 1, "the Python section of docs/bindings.md has one example"
    (example,) = blocks
    assert "is_allowed_many" in example and "entitlements" in example
    result = run(example, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "plans answer\n"


def test_the_examples_of_the_readme_run_from_any_directory(tmp_path):
    blocks = PYTHON_BLOCK.findall((REPOSITORY / "bindings" / "python" / "README.md").read_text(encoding="utf-8"))
    assert len(blocks) >= 3
    for number, block in enumerate(blocks):
        result = run(block, tmp_path)
        assert result.returncode == 0, f"example {number + 1} of the README: {result.stderr}"
