"""`python -m sna` is the same as the `sna` command."""

from sna.cli import main

raise SystemExit(main())
