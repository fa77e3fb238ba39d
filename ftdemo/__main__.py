"""`python -m ftdemo …`: the command-line face of the app."""

from ftdemo.cli import main

raise SystemExit(main())
