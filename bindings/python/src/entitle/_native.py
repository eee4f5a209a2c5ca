"""Loads the C ABI: the shared library and the declarations of `entitle.h`, through cffi.

The declarations given to cffi are the header's own, read at import time with the
preprocessor lines taken out, so no signature is written twice by hand. The library and the
header are found beside this file (where `pip install` puts them), or where the environment
variables ENTITLE_LIBRARY and ENTITLE_HEADER point (for tests against a fresh cargo build).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from cffi import FFI

_HERE = Path(__file__).resolve().parent
_LIBRARY_NAME = "libentitle_ffi.dylib" if sys.platform == "darwin" else "libentitle_ffi.so"


def _locate(variable: str, name: str) -> Path:
    explicit = os.environ.get(variable)
    path = Path(explicit) if explicit else _HERE / name
    if not path.is_file():
        raise ImportError(
            f"entitle: {path} is missing; install the package with `pip install ./bindings/python`"
            f" (which builds it with cargo), or set {variable}"
        )
    return path


# What a C11 compiler defines, for the few conditions the header tests.
_C11 = {"__STDC_VERSION__": "201112"}


def _condition(directive: str, rest: str, defined: set[str]) -> bool:
    """Whether a conditional line is true for a C11 (not C++) compiler."""
    name = rest.split()[0] if rest.split() else ""
    if directive == "#ifdef":
        return name in defined
    if directive == "#ifndef":
        return name not in defined
    expression = re.sub(r"defined\s*\(\s*(\w+)\s*\)", lambda m: "1" if m.group(1) in defined else "0", rest)
    expression = re.sub(r"\b(\d+)[uUlL]+\b", r"\1", expression)
    expression = re.sub(r"\b[A-Za-z_]\w*\b", lambda m: _C11.get(m.group(0), "0"), expression)
    expression = expression.replace("||", " or ").replace("&&", " and ").replace("!", " not ")
    if not re.fullmatch(r"[\d\s()<>=orandt]*", expression):
        raise ImportError(f"entitle: the header tests a condition this loader cannot read: {rest}")
    return bool(eval(expression, {"__builtins__": {}}))  # digits, comparisons and and/or/not only


def declarations(header: str) -> str:
    """The header's C declarations as cffi reads them, as a C11 compiler (not a C++ one) sees
    them: conditionals are evaluated, preprocessor lines removed, and everything else (types,
    enums, prototypes, comments) kept as written."""
    kept = []
    defined: set[str] = set()
    # One entry per open conditional: whether its current branch is read, and whether any
    # branch of it has been.
    stack: list[list[bool]] = []

    def reading() -> bool:
        return all(active for active, _ in stack)

    for line in header.splitlines():
        words = line.split(maxsplit=1)
        directive = words[0] if words and words[0].startswith("#") else None
        rest = words[1] if len(words) > 1 else ""
        if directive in ("#if", "#ifdef", "#ifndef"):
            taken = reading() and _condition(directive, rest, defined)
            stack.append([taken, taken])
        elif directive == "#else" and stack:
            active, taken = stack[-1]
            stack[-1] = [not taken, True]
        elif directive == "#endif" and stack:
            stack.pop()
        elif directive == "#define" and reading():
            defined.add(rest.split()[0])
        elif directive is None and reading():
            kept.append(line)
    return "\n".join(kept)


def defines(header: str) -> dict[str, str]:
    """The header's `#define NAME VALUE` macros, as text."""
    return dict(re.findall(r"^#define\s+(ENTITLE_\w+)\s+(.+?)\s*$", header, flags=re.MULTILINE))


HEADER_PATH = _locate("ENTITLE_HEADER", "entitle.h")
HEADER = HEADER_PATH.read_text(encoding="utf-8")
DEFINES = defines(HEADER)

ffi = FFI()
ffi.cdef(declarations(HEADER))
lib = ffi.dlopen(str(_locate("ENTITLE_LIBRARY", _LIBRARY_NAME)))
