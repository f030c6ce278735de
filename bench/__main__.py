"""``python -m bench``: run the side-by-side benchmark (see ``bench/README.md``)."""

from bench.run import main

raise SystemExit(main())
