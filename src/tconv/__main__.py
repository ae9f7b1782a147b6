"""``python -m tconv``: the same command line as ``tconv``."""

import sys

from .cli import main

sys.exit(main())
