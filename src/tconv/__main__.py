"""``python -m tconv``: the same command line as ``tconv``."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
