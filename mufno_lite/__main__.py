"""``python -m mufno_lite …``: see :mod:`mufno_lite.cli`."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
