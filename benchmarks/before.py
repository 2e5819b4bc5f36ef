"""The headline figures of a baseline commit, measured in the same run as the working tree's.

The restructuring of issue #13 promised that performance would not regress. To show
before and after side by side with figures from one run on one machine, ``make perf``
exports :data:`BASELINE` (``git archive``: its ``src/`` and ``benchmarks/``) into a
temporary folder and runs that commit's own benchmarks there, in a subprocess of the same
interpreter and environment, right after the working tree's. Only the headline figures are
kept: the pure transition median and the journey's overheads (in memory, SQLite, Flask on
SQLite), each computed with the formulas of :func:`headline`.

Nothing here is asserted by a test: the figures move with the machine and its load.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

#: The last commit before the restructuring of issue #13 (its first merge came next).
BASELINE = "80dced31595997124a6820b06f6b9af6d34176d0"
BASELINE_LABEL = "80dced3"

_REPO = Path(__file__).resolve().parents[1]

# Runs inside the exported baseline, against that commit's own benchmarks, so it may only
# use what both trees have: flow_bench.time_transitions and time_journey, sql_journey.run
# and flask_bench.run, whose results keep the same fields in both. One call is one round:
# the in-memory journey always; the transitions, SQLite and Flask only in a full round.
_DRIVER = """
import json, statistics, sys
from pathlib import Path
import cegema_onboarding
if not Path(cegema_onboarding.__file__).resolve().is_relative_to(Path.cwd().resolve()):
    raise SystemExit("the baseline run imported the working tree's package: "
                     + cegema_onboarding.__file__)
from benchmarks import flask_bench, flow_bench, sql_journey
quick, repeat, memory_repeat = sys.argv[1] == "quick", int(sys.argv[2]), int(sys.argv[3])
def pct(f):
    return [f.other_work / f.hashes_alone * 100, f.paired_overhead / f.hashes_alone * 100]
out = {"memory": pct(flow_bench.time_journey(memory_repeat))}
if repeat:
    kinds = flow_bench.time_transitions(*((3, 200) if quick else (9, 2000)))
    out["transition_us"] = statistics.median(kinds.values())
    out["sqlite"] = pct(sql_journey.run(repeat))
    journey, hashes, count, other = flask_bench.run(repeat)["SQLite"]
    out["flask"] = [other / hashes * 100, (journey - hashes) / hashes * 100]
print(json.dumps(out))
"""


def headline(flow: Any, sql: Any, flask: Any) -> dict[str, Any]:
    """The headline figures of one tree's results: the same formulas as the driver's."""

    def pct(f: Any) -> list[float]:
        return [f.other_work / f.hashes_alone * 100, f.paired_overhead / f.hashes_alone * 100]

    journey, hashes, _count, other = flask["SQLite"]
    return {
        "transition_us": statistics.median(flow.transitions.values()),
        "memory": pct(flow.journey),
        "sqlite": pct(sql),
        "flask": [other / hashes * 100, (journey - hashes) / hashes * 100],
    }


def run(quick: bool, ref: str = BASELINE, *, full: bool = True) -> dict[str, Any]:
    """Export ``ref`` and run one round of its benchmarks; its headline figures.

    A full round is the whole :func:`headline`; otherwise only the in-memory journey
    (``memory``), the figure that swings most between runs and the cheapest to repeat.
    """
    repeat = (3 if quick else 15) if full else 0
    memory_repeat = 3 if quick else 11
    git = shutil.which("git")
    if git is None:
        raise RuntimeError("git is not installed: the baseline cannot be exported")
    # Fixed arguments: the ref is a constant of this module or the caller's own choice.
    archive = subprocess.run(  # noqa: S603
        [git, "-C", str(_REPO), "archive", "--format=tar", ref, "src", "benchmarks"],
        check=True, capture_output=True).stdout
    with tempfile.TemporaryDirectory(prefix="baseline-") as folder:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(folder, filter="data")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([f"{folder}/src", folder])}
        done = subprocess.run([sys.executable, "-c", _DRIVER,  # noqa: S603
                               "quick" if quick else "full", str(repeat),
                               str(memory_repeat)],
                              cwd=folder, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the baseline's benchmarks failed: {done.stderr.strip()[-400:]}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures
