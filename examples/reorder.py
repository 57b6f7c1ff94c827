"""An ordering bug five threads deep: it shows only when one thread runs before all the others
and another runs after all the others.

A release pipeline. ``prepare`` fills in the release metadata (version, date, changelog,
signer, then the ``ready`` flag); three ``build`` workers each build one target and stamp it with
the version if the metadata is ready (an artifact built earlier is left unstamped); ``publish``
assembles the release. ``publish`` has a fast path for the case where every target is already
built and stamped, and that rarely taken path has a copy-and-paste mistake: it forgets the
changelog.

So the failure needs a whole order, not just two steps that meet:

* ``prepare`` writes all of its metadata before any build looks at the ``ready`` flag,
* every build finishes before ``publish`` looks at the artifacts.

A search that picks the next thread uniformly at every step rarely lets one thread run five
steps while four others wait, and then also makes a specific thread go last. PCT (random thread
priorities; the highest-priority runnable thread runs) produces such orders with a probability
of roughly 1/(threads x (threads - 1)) per execution. On the development machine PCT needs a
median of under 20 executions (seeds 0-19) and uniform random over 250: see docs/benchmarks.md.

``fixed`` corrects the fast path (both paths now build the release the same way).

Run it: ``python examples/reorder.py``.
"""

from __future__ import annotations

import sys
import threading
from typing import Callable, Dict, List, Optional, Tuple

import interleave

TARGETS = ("linux", "macos", "windows")


class Release:
    def __init__(self) -> None:
        self.version: Optional[str] = None
        self.date: Optional[str] = None
        self.changelog: Optional[str] = None
        self.signed_by: Optional[str] = None
        self.ready = False
        self.artifacts: List[Tuple[str, Optional[str]]] = []  # (target, version stamped on it)
        self.published: Dict[str, object] = {}
        self.log: List[str] = []


def prepare(release: Release) -> None:
    release.version = "2.0"
    release.date = "2024-06-01"
    release.changelog = "Faster, fewer bugs."
    release.signed_by = "release-bot"
    release.ready = True


def build(release: Release, target: str) -> None:
    version = release.version if release.ready else None
    release.log.append(f"built {target}")
    release.artifacts.append((target, version))


def publish_buggy(release: Release) -> None:
    stamped = [target for target, version in release.artifacts if version is not None]
    if len(stamped) == len(TARGETS):
        # Fast path: everything is built and stamped already. (Copied from below, minus a line.)
        release.published = {"version": release.version, "files": sorted(stamped)}
    else:
        # Slow path: (re)build and stamp every target now.
        release.published = {"version": release.version, "files": sorted(TARGETS),
                             "changelog": release.changelog}


def publish_fixed(release: Release) -> None:
    stamped = [target for target, version in release.artifacts if version is not None]
    files = sorted(stamped) if len(stamped) == len(TARGETS) else sorted(TARGETS)
    release.published = {"version": release.version, "files": files, "changelog": release.changelog}


def _release(publish: Callable[[Release], None]) -> None:
    release = Release()
    # The workers wait for a starting signal so that they race from the same line, as in a load
    # test; otherwise the order in which the main thread starts them would decide most of the
    # race. (They are started builds first and prepare last, so that neither running them in
    # start order nor in reverse happens to be the failing order.)
    go = threading.Event()

    def run(step: Callable[..., None], *args: object) -> Callable[[], None]:
        def worker() -> None:
            go.wait()
            step(release, *args)
        return worker

    threads = [threading.Thread(target=run(build, t), name=f"build-{t}") for t in TARGETS]
    threads.append(threading.Thread(target=run(publish), name="publish"))
    threads.append(threading.Thread(target=run(prepare), name="prepare"))
    for t in threads:
        t.start()
    go.set()
    for t in threads:
        t.join()
    assert "changelog" in release.published, f"published without a changelog: {release.published}"


def buggy() -> None:
    """Fails only if prepare runs before every build and publish after every build."""
    _release(publish_buggy)


def fixed() -> None:
    """Both paths of publish include the changelog."""
    _release(publish_fixed)


def main() -> int:
    result = interleave.explore(buggy, executions=50_000, seed=0)
    print(f"== Buggy (fast path forgets the changelog): {result.verdict}")
    if result.failure is not None:
        print(result.failure.report)
    print()
    fixed_result = interleave.explore(fixed, executions=2000, seed=0)
    print(f"== Fixed: {fixed_result.verdict}")
    return 0 if result.failure is not None and fixed_result.failure is None else 1


if __name__ == "__main__":
    sys.exit(main())
