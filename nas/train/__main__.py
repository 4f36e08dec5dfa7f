"""``python -m nas.train ARCH``: the full-training command, :mod:`nas.train.cli`."""

import sys

from .cli import main

sys.exit(main())
