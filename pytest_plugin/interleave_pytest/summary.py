"""The terminal summary: executions, what a pass does not prove, and usage errors found on xdist workers."""

from __future__ import annotations

from typing import Any, List, Optional

import pytest

from .fixture import RUNNER_KEY, instrument_advice
from .options import Settings

#: The attribute of a call report that carries the test's statistics (it travels to the xdist controller).
STATS_ATTR = "interleave_stats"
#: workeroutput key: a usage error a pytest-xdist worker found while collecting.
USAGE_KEY = "interleave_usage_error"
UNUSED_TOKEN = ("interleave: --interleave-replay was given, but no selected test explored, so the token was never "
                "replayed: select the test that printed it (its node id as in the report's Reproduce line)")


def rerun_options(settings: Settings) -> str:
    """The options that repeat this run's search: the drawn seed and the shard."""
    out = []
    if settings.session_seed is not None:
        out.append(f"--interleave-seed={settings.session_seed}")
    if settings.shard != (0, 1):
        out.append(f"--interleave-shard={settings.shard[0] + 1}/{settings.shard[1]}")
    return " ".join(out)


def summary_of(config: pytest.Config) -> Optional[Summary]:
    """The session's summary plugin."""
    summary = config.pluginmanager.get_plugin("interleave-summary")
    return summary if isinstance(summary, Summary) else None


def token_unused(config: pytest.Config) -> bool:
    """--interleave-replay whose token no test replayed (on the xdist controller: by the workers' reports)."""
    runner = config.stash.get(RUNNER_KEY, None)
    if runner is None or runner.settings.replay_token is None or runner.replayed:
        return False
    if hasattr(config, "workerinput"):  # a worker saw only its share of the tests: the controller judges
        return False
    summary = summary_of(config)
    return not (summary is not None and (summary.replayed_token or summary.usage_error))


def worker_usage_error(config: pytest.Config) -> str:
    """A usage error an xdist worker reported to this controller ('' when none did)."""
    summary = summary_of(config)
    return summary.usage_error if summary is not None else ""


class Summary:
    """Statistics from the call reports (they travel with the report, so the xdist controller sees them)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.rows: List[Any] = []
        self.replayed_token = False  # a call report (from any xdist worker) replayed --interleave-replay's token
        self.usage_error = ""  # from a worker: raising it there would be the controller's INTERNALERROR

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Collect the statistics attached to a call report."""
        stats = getattr(report, STATS_ATTR, None)
        if report.when == "call" and isinstance(stats, dict):
            self.rows.append((report.nodeid, report.outcome, stats))
            self.replayed_token = self.replayed_token or bool(stats.get("replayed_token"))

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """pytest-xdist: keep the usage error a worker found (every worker finds the same one)."""
        found = (getattr(node, "workeroutput", None) or {}).get(USAGE_KEY)
        if found and not self.usage_error:
            self.usage_error = str(found)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """Executions per second overall; with ``-v``, each test's count and verdict."""
        if self.usage_error:
            terminalreporter.write_line(f"ERROR: {self.usage_error}", red=True)
        if token_unused(self.config):
            terminalreporter.write_line(UNUSED_TOKEN, red=True)
        rows = self.rows
        verbosity = self.config.get_verbosity()
        if not rows or verbosity < -1:
            return
        total = sum(s["executions"] for _, _, s in rows)
        elapsed = sum(s["elapsed"] for _, _, s in rows)
        rate = f"{total / elapsed:,.0f} executions/s" if elapsed > 0 else "instant"
        counts = sorted(s["executions"] for _, _, s in rows)
        spread = f"{counts[0]:,}" if counts[0] == counts[-1] else f"{counts[0]:,}-{counts[-1]:,}"
        tr = terminalreporter
        if verbosity > 0:
            tr.write_sep("-", "interleave")
            for nodeid, outcome, s in rows:
                per = f", {s['executions'] / s['elapsed']:,.0f}/s" if s["elapsed"] > 0 else ""
                tr.write_line(f"{nodeid} {outcome.upper()}  {s['verdict']} ({s['elapsed']:.2f} s{per})")
        runner = self.config.stash.get(RUNNER_KEY, None)
        rerun = rerun_options(runner.settings) if runner is not None else ""
        tr.write_line(f"interleave: {len(rows)} test{'s' if len(rows) != 1 else ''}, {total:,} "
                      f"execution{'s' if total != 1 else ''} "
                      f"({spread} per test) in {elapsed:.2f} s, {rate}" + (f"; rerun with {rerun}" if rerun else ""))
        # What a pass does not prove, and what the search left behind: at every verbosity.
        for nodeid, _, s in rows:
            for why in s.get("forgotten", ()):
                tr.write_line(f"interleave: stored failure of test {nodeid} {why}: forgotten")
            for note in s.get("notes", ()):
                tr.write_line(f"interleave: {nodeid}: {note}")
        self._not_proved(tr, rows)
        blind = [(nodeid, s["uninstrumented"]) for nodeid, _, s in rows if s.get("uninstrumented")]
        if blind:
            # A pass that never looked inside the libraries the body uses: say which, and how to look.
            tr.write_line(f"interleave: {len(blind)} passing test{'s' if len(blind) != 1 else ''} ran installed "
                          "libraries that are not instrumented (their code runs as single steps: a race "
                          "inside them cannot be found):")
            for nodeid, names in blind:
                tr.write_line(f"  {nodeid}: {', '.join(names)}")
            every = list(dict.fromkeys(n for _, names in blind for n in names))
            tr.write_line("  " + instrument_advice(every))
        races = [(nodeid, s["races"]) for nodeid, _, s in rows if s.get("races")]
        if races:
            tr.write_line(f"interleave: data races (races='report') in {len(races)} "
                          f"test{'s' if len(races) != 1 else ''}:")
            for nodeid, found in races:
                tr.write_line(f"  {nodeid}: {len(found)} race{'s' if len(found) != 1 else ''}")
                for text in found:
                    tr.write_line("    " + text.replace("\n", "\n    "))

    @staticmethod
    def _not_proved(tr: Any, rows: List[Any]) -> None:
        """Systematic searches that stopped before covering their bound: the budget, or the program itself."""
        cut = [(nodeid, text) for nodeid, _, s in rows for text in s.get("cut", ())]
        stopped = [(nodeid, text) for nodeid, _, s in rows for text in s.get("unproved", ())]
        if cut:
            tr.write_line(f"interleave: {len(cut)} bounded search{'es' if len(cut) != 1 else ''} cut short by "
                          "the budget (raise --interleave-executions or the time budget, or lower the bound):")
            for nodeid, text in cut:
                tr.write_line(f"  {nodeid}: {text}")
        if stopped:
            tr.write_line(f"interleave: {len(stopped)} systematic search{'es' if len(stopped) != 1 else ''} "
                          "stopped before covering every schedule, so a pass is not a proof (-rP shows why):")
            for nodeid, text in stopped:
                tr.write_line(f"  {nodeid}: {text}")
