"""``python -m comorag``."""

from comorag.cli import main

raise SystemExit(main())
