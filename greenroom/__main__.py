"""`python -m greenroom`: the `greenroom` command line."""

from greenroom.cli.main import main

raise SystemExit(main())
