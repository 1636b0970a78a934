"""`python -m tinygrad_lite ...` runs the `tinygrad-lite` command."""

import sys

from .cli import main

if __name__ == "__main__":  # pytest --doctest-modules imports this file; do nothing then
    sys.exit(main())
