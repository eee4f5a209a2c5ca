"""The declarations cffi binds are the header's own, and every function the package calls is
declared there: a hand-written signature is how FFI leaks start."""

import ast
import re
from pathlib import Path

import entitle
from entitle import _native


def test_cffi_reads_the_committed_header(repository):
    committed = (repository / "include" / "entitle.h").read_text(encoding="utf-8")
    assert _native.HEADER == committed, "the loaded header is not the repository's include/entitle.h"


def test_every_function_the_package_calls_is_declared_in_the_header():
    source = Path(entitle.__file__).read_text(encoding="utf-8")
    called = set(re.findall(r"\blib\.(entitle_\w+)", source))
    declared = set(re.findall(r"\b(entitle_\w+)\s*\(", _native.declarations(_native.HEADER)))
    assert called, "the package calls the library"
    assert called <= declared, f"called but not declared: {sorted(called - declared)}"
    for name in called:
        assert callable(getattr(_native.lib, name))


def test_the_declarations_leave_no_preprocessor_or_cplusplus_lines():
    text = _native.declarations(_native.HEADER)
    assert "#" not in "".join(line.split("//")[0] for line in text.splitlines())
    assert 'extern "C"' not in text
    assert ": uint32_t" not in text
    ast.parse("x = 1")  # the module imported, so cffi parsed the declarations
