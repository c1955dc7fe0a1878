"""Write docker/requirements.lock: the venv's pinned packages minus what the CUDA base image
provides (torch, its CUDA wheels) and the dev tools. Run through `make lock`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

PROVIDED_OR_DEV = re.compile(
    r"^(torch|torchvision|triton|nvidia-.*|cuda-.*|sympy|mpmath|networkx|filelock|fsspec|jinja2"
    r"|markupsafe|typing.extensions|setuptools|wheel|pip|pytest|ruff|iniconfig|pluggy|pygments"
    r"|hadolint.bin|shellcheck.py|vos.benchmark|scikit.image|imageio|lazy.loader|tifffile"
    r"|scipy)$",
    re.IGNORECASE,
)
HEADER = """\
# Versions the project is tested with (pip freeze of the CI venv, minus torch and the CUDA
# wheels, which the base image provides, and the dev tools). Regenerate with: make lock
"""


def main() -> None:
    frozen = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--exclude-editable"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    kept = [
        line for line in frozen if "==" in line and not PROVIDED_OR_DEV.match(line.split("==")[0])
    ]
    out = Path(__file__).with_name("requirements.lock")
    out.write_text(HEADER + "\n".join(kept) + "\n")
    print(f"wrote {len(kept)} pins to {out}")


if __name__ == "__main__":
    main()
