"""DPOR's exploration tree: nodes with backtrack and sleep sets, and the choice of the next branch.

A node is the state before one event of the current path. A race reversed adds a thread to the
backtrack set of the node before its first event (source sets); the sleep set of a new node
holds the siblings already explored that the event does not disturb. With a preemption bound,
reversals are added within the bound (and at the conservative point before them), and sleep
sets are off. In seeded order the next branch is drawn from the whole tree, not the deepest node;
with ``prefer_reads`` the alternatives added for a race that a read observes go first.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Set, Tuple

from ..instrument.access.vocabulary import Loc
from ..runtime.execution import DONE
from .dpor_events import _Event
from .dpor_operations import _Pending
from .dpor_relation import dependent, observes


class _Node:
    """The state before one event, kept across executions along the current path."""

    __slots__ = ("choice", "done", "backtrack", "sleep", "enabled", "disabled", "preempts", "parent", "via",
                 "depth", "urgent")

    def __init__(self, choice: int, sleep: frozenset, enabled: Tuple[int, ...], disabled: Dict[int, Any],
                 preempts: int) -> None:
        self.choice = choice
        self.done: List[int] = [choice]  # explored here, in order; the last is the current one
        self.backtrack: Set[int] = {choice}
        self.sleep = sleep  # threads asleep on arrival (inherited)
        self.enabled = enabled
        self.disabled = disabled  # runnable threads whose next operation would block now
        self.preempts = preempts  # preemptions before this node
        # Seeded order only: the node before this one and the choice there that led here, so
        # that a pending node anywhere in the explored tree can be returned to.
        self.parent: Optional[_Node] = None
        self.via = -1
        self.depth = 0  # its index on the path (tree order)
        # Reads first only: the backtrack entries added for a race that a read observes.
        self.urgent: Optional[Set[int]] = None



class ExplorationTree:
    """The current path's nodes and the backtracking over them (a part of the DPOR strategy)."""

    nodes: List[_Node]
    events: List[_Event]
    ex: Any
    k: Optional[int]
    rng: Optional[random.Random]
    tree: bool
    prefer_reads: bool
    open: Dict[_Node, None]
    keep_upto: int
    replay_upto: int
    done: bool
    stats: Dict[str, int]

    if TYPE_CHECKING:  # another part of the DPOR strategy
        def _pending_of(self, vt: Any) -> _Pending: ...

    def _reverse(self, i: int, j: int) -> None:
        """Race between events i and j: make sure the state before i explores a reversal."""
        node = self.nodes[i]
        events = self.events
        ti = events[i].tid
        # notdep(i).j: the events after i that do not happen after it, then j; its initials.
        first: Dict[int, int] = {}
        initials: List[int] = []
        for x in range(i + 1, j + 1):
            ex_ = events[x]
            vc = ex_.vc
            if x != j and (vc[ti] if ti < len(vc) else -1) >= i:
                continue
            t = ex_.tid
            if t in first:
                continue
            ok = True
            for t2, f in first.items():
                if (vc[t2] if t2 < len(vc) else -1) >= f:
                    ok = False
                    break
            if ok:
                initials.append(t)
            first[t] = x
        enabled = node.enabled
        backtrack = node.backtrack
        cand = [t for t in initials if t in enabled]
        if not cand:
            return
        urgent = self.prefer_reads and self._observed(i, j)
        for t in cand:
            if t in backtrack:
                if urgent and t not in node.done:
                    self._mark_urgent(node, t)
                return
        awake = [t for t in cand if t not in node.sleep]
        if not awake:
            return
        if self.rng is not None:
            pick = awake[0] if len(awake) == 1 else self.rng.choice(awake)
        else:
            pick = events[j].tid if events[j].tid in awake else min(awake)
        if self.k is not None:
            self._bounded_add(i, pick)
            return
        backtrack.add(pick)
        if urgent:
            self._mark_urgent(node, pick)
        if self.tree:
            self.open[node] = None

    def _observed(self, i: int, j: int) -> bool:
        """Whether reversing the race between events i and j changes what a read (or a lock's
        next holder) sees; a race of two writes only is not (until something reads after them)."""
        a, b = self.events[i], self.events[j]
        taken = a.acq if a.acq is not None else a.took
        if taken is not None and taken == (b.acq if b.acq is not None else b.took):
            return True
        return observes(a.accs, b.accs)

    @staticmethod
    def _mark_urgent(node: _Node, t: int) -> None:
        if node.urgent is None:
            node.urgent = {t}
        else:
            node.urgent.add(t)

    def _next_sleep(self, i: int) -> frozenset:
        """Sleep set after event i: earlier siblings and inherited sleepers it does not disturb."""
        node = self.nodes[i]
        if not node.sleep and len(node.done) == 1:
            return frozenset()
        ev = self.events[i]
        asleep = set(node.sleep)
        for t in node.done:
            if t != node.choice:
                asleep.add(t)
        asleep.discard(ev.tid)
        if not asleep:
            return frozenset()
        out = []
        threads = self.ex.threads
        for q in sorted(asleep):
            if q >= len(threads) or threads[q].state == DONE:
                continue
            p = self._pending_of(threads[q])
            th = threads[q].thread
            key = id(th) if th is not None else ("vt", q)
            accs = p[0].locs + (((Loc.ENDED, key), True),)
            if not dependent(ev.accs, accs):
                out.append(q)
        return frozenset(out)

    def _push(self, node: _Node) -> None:
        nodes = self.nodes
        if self.tree and nodes:
            parent = nodes[-1]
            node.parent = parent
            node.via = parent.choice
        node.depth = len(nodes)
        nodes.append(node)

    def _next_branch(self) -> None:
        """Backtrack: the deepest node with a choice still to explore becomes the branch point."""
        if self.tree:
            self._next_branch_tree()
            return
        nodes = self.nodes
        while nodes:
            node = nodes[-1]
            if len(node.backtrack) == len(node.done):
                nodes.pop()  # nothing was added here (done is always part of backtrack)
                continue
            rest = sorted(t for t in node.backtrack if t not in node.done and t not in node.sleep)
            if rest:
                t = rest[0] if self.rng is None or len(rest) == 1 else self.rng.choice(rest)
                node.choice = t
                node.done.append(t)
                self.replay_upto = len(nodes) - 1
                return
            nodes.pop()
        self.replay_upto = 0
        self.done = True

    def _next_branch_tree(self) -> None:
        """Tree order: a pending alternative from anywhere in the explored tree.

        Seeded, it is drawn at random (with ``prefer_reads``, among those added for a race that a
        read observes, if any); unseeded (``prefer_reads``), it is the deepest of those, else the
        deepest of all. Its node's path from the root is followed again (the events up to where
        it leaves the previous path keep their clocks; the rest are analysed anew, which only re-finds races
        already reversed), then the alternative runs. Every alternative added is still taken
        once, so the classes explored are the same as in depth-first order.
        """
        rng = self.rng
        pending: List[Tuple[_Node, List[int]]] = []
        for node in list(self.open):
            rest = [t for t in node.backtrack if t not in node.done and t not in node.sleep]
            if rest:
                pending.append((node, rest))
            else:
                del self.open[node]
        if not pending:
            self.nodes = []
            self.replay_upto = self.keep_upto = 0
            self.done = True
            return
        if self.prefer_reads:
            first = [(n, [t for t in rest if t in n.urgent]) for n, rest in pending if n.urgent]
            first = [(n, rest) for n, rest in first if rest]
            if first:
                pending = first
        if rng is not None:
            node, rest = pending[rng.randrange(len(pending))]
            t = rng.choice(sorted(rest))
        else:
            # The deepest, as depth-first order would take (measured against the shallowest,
            # which delays bugs one reversal away from the end: docs/strategies.md, section 7);
            # among equals the latest opened.
            node, rest = max(reversed(pending), key=lambda p: p[0].depth)
            t = min(rest)
        path: List[_Node] = []
        n: Optional[_Node] = node
        while n is not None:
            path.append(n)
            n = n.parent
        path.reverse()
        old = self.nodes
        old_choices = [x.choice for x in old]
        for a, b in zip(path, path[1:]):
            a.choice = b.via
        node.choice = t
        node.done.append(t)
        keep = 0
        while keep < len(path) and keep < len(old) and old[keep] is path[keep] and \
                old_choices[keep] == path[keep].choice:
            keep += 1
        self.nodes = path
        self.replay_upto = self.keep_upto = keep

    # ---------------------------------------------------------------- preemption bound
    def _bounded_add(self, i: int, pick: int) -> None:
        """Add a reversal within the preemption bound, and the conservative point before it.

        Bounded partial-order reduction (Coons, Musuvathi, McKinley, OOPSLA 2013): a reversal
        that would preempt at node i may also be reachable without a preemption from where the
        running thread's current run of events began, so the thread is added there too.
        """
        node = self.nodes[i]
        prev = self.events[i - 1].tid if i > 0 else None
        cost = 1 if prev is not None and prev != pick and prev in node.enabled else 0
        if node.preempts + cost <= self.k:  # type: ignore[operator]
            node.backtrack.add(pick)
        else:
            self.stats["pruned_by_bound"] += 1
        b = i
        while b > 0 and self.events[b - 1].tid == self.events[i - 1].tid if i > 0 else False:
            b -= 1
        if b != i and b < len(self.nodes):
            nb = self.nodes[b]
            if pick in nb.enabled and pick not in nb.sleep and pick not in nb.backtrack:
                prevb = self.events[b - 1].tid if b > 0 else None
                costb = 1 if prevb is not None and prevb != pick and prevb in nb.enabled else 0
                if nb.preempts + costb <= self.k:  # type: ignore[operator]
                    nb.backtrack.add(pick)
