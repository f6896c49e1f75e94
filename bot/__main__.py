"""``python -m bot``: the same as the ``kyrbot`` command."""

import sys

from bot.cli import main

sys.exit(main())
