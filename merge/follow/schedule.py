"""When to ask about each unfinished video next: few requests, no long wait after it is done.

Two rules, pure and clock-free so tests can replay any timeline:
- back off: each video's interval grows from POLL_FIRST_SECONDS by POLL_GROWTH up to a cap;
- once a few videos have finished, estimate when each of the rest will, from how fast they are
  finishing and how many were submitted before it (HeyGen renders a few at a time, in order),
  and ask then instead, if that is later than the backoff would.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from merge.settings import (
    POLL_CAP_SECONDS,
    POLL_ESTIMATE_AFTER,
    POLL_ESTIMATE_CAP_SECONDS,
    POLL_FIRST_SECONDS,
    POLL_GROWTH,
    POLL_HEAD,
)


@dataclass(order=True)
class Watch:
    """One unfinished video, ordered by when it is due."""

    due: float
    order: int
    video_id: str = field(compare=False)
    interval: float = field(default=POLL_FIRST_SECONDS, compare=False)
    checks: int = field(default=0, compare=False)


class PollSchedule:
    """A queue of videos by due time, with the backoff and the finishing-rate estimate."""

    def __init__(
        self,
        first: float = POLL_FIRST_SECONDS,
        cap: float = POLL_CAP_SECONDS,
        defer_new: bool = False,
    ) -> None:
        self.first = first
        self.cap = cap
        self.defer_new = defer_new
        """Videos just submitted: ask only the head at first (none of the rest can be done)."""
        self._queue: list[Watch] = []
        self._open: set[str] = set()
        self._order: dict[str, int] = {}
        self._finished_at: list[float] = []
        self._unfinished = _Counts()
        self._deferred: list[Watch] = []
        self._seen = 0.0

    def add(self, video_id: str, now: float) -> None:
        """Follow a video; ids are added in submission order, and checked at once."""
        order = self._order[video_id] = len(self._order)
        self._open.add(video_id)
        self._unfinished.add(order, 1)
        watch = Watch(now, order, video_id, self.first)
        if order >= POLL_HEAD and self.defer_new:
            watch.due = now + self.cap  # the head's answers will tell when to look
            self._deferred.append(watch)
        heapq.heappush(self._queue, watch)

    def __len__(self) -> int:
        return len(self._open)

    def next_due(self) -> float | None:
        """When the earliest video is due, or None when none is left."""
        if self._deferred and self._pace() is not None:
            self._bring_forward(self._seen)
        elif self._deferred and len(self._deferred) >= len(self._queue):
            self._bring_forward(self._seen)  # the head is done, its pace unknown: back off
        return self._queue[0].due if self._queue else None

    def pop_due(self, now: float) -> list[Watch]:
        """Take every video due by `now`."""
        taken: list[Watch] = []
        while self._queue and self._queue[0].due <= now:
            taken.append(heapq.heappop(self._queue))
        return taken

    def finished(self, watch: Watch, now: float) -> None:
        """Stop following a video that reached a final status."""
        if watch.video_id in self._open:
            self._open.discard(watch.video_id)
            self._unfinished.add(self._order[watch.video_id], -1)
        self._finished_at.append(now)
        self._seen = max(self._seen, now)

    def _bring_forward(self, now: float) -> None:
        """Once the pace is known, ask the videos kept waiting when theirs is due."""
        for watch in self._deferred:
            estimate = self._estimate(watch, now)
            if estimate is None:
                watch.due = min(watch.due, now + watch.interval)
            else:
                watch.due = min(watch.due, max(now, estimate - 0.1 * (estimate - now)))
        self._deferred = []
        heapq.heapify(self._queue)

    def again(self, watch: Watch, now: float) -> None:
        """Put back a video that is not done yet, due after its backoff or its estimate."""
        watch.checks += 1
        self._seen = max(self._seen, now)
        backoff = min(self.cap, watch.interval)
        watch.interval = min(self.cap, watch.interval * POLL_GROWTH)
        estimate = self._estimate(watch, now)
        wait = backoff
        if estimate is not None:  # a little early, as a late answer costs the user waiting
            floor = min(backoff, 2 * self.first)  # never stuck a whole backoff step past it
            wait = min(POLL_ESTIMATE_CAP_SECONDS, max(floor, 0.9 * (estimate - now)))
        elif self._unfinished.before(self._order[watch.video_id]) >= POLL_HEAD:
            wait = self.cap  # far back in the queue: the head's pace will tell when to look
            self._deferred.append(watch)
        watch.due = now + wait
        heapq.heappush(self._queue, watch)

    def _pace(self) -> float | None:
        """Videos finishing per second so far, once a few have finished at different times."""
        done = self._finished_at
        if len(done) < POLL_ESTIMATE_AFTER or done[-1] <= done[0]:
            return None
        return (len(done) - 1) / (done[-1] - done[0])

    def _estimate(self, watch: Watch, now: float) -> float | None:
        """When this video should finish, judging by the pace of those before it."""
        pace = self._pace()
        if pace is None:
            return None
        ahead = self._unfinished.before(self._order[watch.video_id])
        return max(now, self._finished_at[-1]) + (ahead + 1) / pace


class _Counts:
    """Counts by position with fast prefix sums (a Fenwick tree), growing as ids are added."""

    def __init__(self) -> None:
        self._tree: list[int] = [0]

    def add(self, position: int, amount: int) -> None:
        """Add `amount` at `position` (0-based)."""
        while len(self._tree) <= position + 1:
            self._grow()
        index = position + 1
        while index < len(self._tree):
            self._tree[index] += amount
            index += index & -index

    def before(self, position: int) -> int:
        """The total at positions below `position`."""
        index, total = min(position, len(self._tree) - 1), 0
        while index > 0:
            total += self._tree[index]
            index -= index & -index
        return total

    def _grow(self) -> None:
        """Double the tree, keeping every prefix sum."""
        size = len(self._tree) - 1
        values = [self._at(i) for i in range(size)]
        self._tree = [0] * (2 * size + 2)
        for position, value in enumerate(values):
            if value:
                self.add(position, value)

    def _at(self, position: int) -> int:
        return self.before(position + 1) - self.before(position)
