"""``python -m cegema_onboarding``: the command line."""

from .cli import main

raise SystemExit(main())
