"""`python -m greenroom.demo`: the ops-center demo without the `greenroom` command."""

from greenroom.demo.runner import main

raise SystemExit(main())
