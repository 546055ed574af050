"""``python -m research_lib``: see :mod:`research_lib.cli`."""

import sys

from research_lib.cli import main

sys.exit(main())
