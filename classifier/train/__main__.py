"""``python -m classifier.train``: see classifier.train.cli."""

from classifier.train.cli import main

raise SystemExit(main())
