"""`python -m bot` is the same as the `marketbot` console script."""

from bot.cli import main

raise SystemExit(main())
