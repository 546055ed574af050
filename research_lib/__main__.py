"""``python -m research_lib``: see :mod:`research_lib.runner.cli`."""

import sys

from research_lib.runner.cli import main

sys.exit(main())
