"""``python -m benchmarks``: the flow benchmark's figures; ``--report``: the whole report.

``python -m benchmarks --report [--full] [--quick] ...`` runs every benchmark and writes
docs/performance.md with its plots (see benchmarks/report.py); without ``--report``, the
arguments go to the flow benchmark, which prints its figures (benchmarks/flow_bench.py).
"""

from __future__ import annotations

import sys

if "--report" in sys.argv[1:]:
    from .report import main

    raise SystemExit(main([a for a in sys.argv[1:] if a != "--report"]))

from .flow_bench import main

raise SystemExit(main())
