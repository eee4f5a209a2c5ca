"""Builds the C ABI with cargo and ships it, with its header, inside the `entitle` package.

`pip install ./bindings/python` runs this: it needs a Rust toolchain (cargo) on the PATH. The
Python code binds to the shared library through cffi in ABI mode, declaring exactly what the
bundled `entitle.h` declares, so there is one binding layer: the C ABI itself.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = Path(__file__).resolve().parent
REPOSITORY = HERE.parent.parent
LIBRARY = "libentitle_ffi.dylib" if sys.platform == "darwin" else "libentitle_ffi.so"


class BuildWithCargo(build_py):
    """Runs `cargo build --release -p entitle-ffi` and copies the library and header in."""

    def run(self):
        super().run()
        manifest = REPOSITORY / "Cargo.toml"
        if not manifest.is_file():
            raise RuntimeError(f"building entitle needs its repository around {HERE}; no {manifest}")
        subprocess.run(
            ["cargo", "build", "--release", "--locked", "-p", "entitle-ffi", "--manifest-path", str(manifest)],
            check=True,
        )
        target = Path(os.environ.get("CARGO_TARGET_DIR", REPOSITORY / "target"))
        package = Path(self.build_lib) / "entitle"
        package.mkdir(parents=True, exist_ok=True)
        shutil.copy2(target / "release" / LIBRARY, package / LIBRARY)
        shutil.copy2(REPOSITORY / "include" / "entitle.h", package / "entitle.h")


class BinaryDistribution(Distribution):
    """The wheel holds a native library, so it is tagged for this platform."""

    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildWithCargo}, distclass=BinaryDistribution)
