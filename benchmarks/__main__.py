"""``python -m benchmarks``: run the flow benchmark (see benchmarks/flow_bench.py)."""

from __future__ import annotations

from .flow_bench import main

raise SystemExit(main())
