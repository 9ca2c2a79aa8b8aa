"""The load-balancer kill test, shared by tests/deploy/test_load_balancer.py (replicas and nginx
on loopback) and deploy/docker_test.py (the compose stack).

Many concurrent clients send POST /v1/predict through nginx, each request with a unique marker
in its text and in its ``X-Request-Id`` header; a third of the way in, one replica is killed
with SIGKILL. Then the answers are checked against the history rows (``check``):

* every 2xx answer's prediction id is stored exactly once, with that request's marker, and no
  marker is stored twice (nginx never re-sends a POST that a replica received: see
  deploy/nginx.conf);
* every other answer is a 502/503/504 from nginx with a body, or an answer cut off in
  transfer (the replica died while sending it: nginx had already passed its status line on
  and no proxy can take that back; the client sees an incomplete body, an error it cannot
  mistake for an answer), and they are few: at most the requests in flight on the killed
  replica (one per client);
* a failed request is stored at most once (its replica may have committed just before dying);
* requests sent after the kill are answered by the surviving replicas, all of them.

Only the standard library and httpx: the script runs from the project's virtualenv.
"""

from __future__ import annotations

import random
import re
import string
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx

VARIANTS = [
    ("BRAF", "V600E"),
    ("KRAS", "G12D"),
    ("EGFR", "L858R"),
    ("TP53", "R273C"),
    ("PIK3CA", "H1047R"),
    ("ERBB2", "Amplification"),
    ("IDH1", "R132H"),
]
#: Statuses nginx answers with when no replica did (see deploy/nginx.conf).
GATEWAY_ERRORS = {502, 503, 504}
MARKER = re.compile(r"lbtest-[a-z]+-\d+")


@dataclass
class Answer:
    marker: str
    status: int  # 0: no HTTP answer at all (the client's connection failed)
    prediction_id: int | None
    body: str
    sent_after_kill: bool


@dataclass
class LoadResult:
    run_id: str
    answers: list[Answer]
    seconds: float
    killed_after: int  # answers received when the kill was sent


@dataclass
class Summary:
    requests: int
    ok: int
    failed: dict[str, int]  # by status, or "cut off" (see ``cut_off``)
    rows: int
    failed_but_stored: int
    seconds: float
    answered_after_kill: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def format(self) -> str:
        failed = ", ".join(f"{n} x {code}" for code, n in sorted(self.failed.items())) or "none"
        lines = [
            f"requests: {self.requests} ({self.requests / self.seconds:.0f}/s, "
            f"{self.seconds:.1f} s)",
            f"2xx: {self.ok}",
            f"failed: {failed} (stored anyway: {self.failed_but_stored})",
            f"history rows: {self.rows} (each 2xx exactly once)",
        ]
        if self.answered_after_kill:
            by = ", ".join(f"{k}: {n}" for k, n in sorted(self.answered_after_kill.items()))
            lines.append(f"answered after the kill by: {by}")
        lines += [f"PROBLEM: {p}" for p in self.problems[:10]]
        if len(self.problems) > 10:
            lines.append(f"... and {len(self.problems) - 10} more problems")
        return "\n".join(lines)


def wait_ready(
    base_url: str,
    timeout_s: float = 120,
    headers: dict[str, str] | None = None,
    alive: Callable[[], bool] = lambda: True,
) -> str:
    """Wait until the service at ``base_url`` is ready; returns the endpoint that said so.

    ``GET /health/ready`` answering 200; while the service has no such endpoint (404), ``GET
    /health`` answering 200 with status "ok" (a model loaded and the database reachable).
    Gives up at once when ``alive()`` turns false (the server's process has exited).
    """
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    with httpx.Client(base_url=base_url, timeout=5, headers=headers) as client:
        while time.monotonic() < deadline:
            if not alive():
                raise TimeoutError(f"{base_url} exited before it was ready")
            try:
                ready = client.get("/health/ready")
                if ready.status_code == 200:
                    return "/health/ready"
                if ready.status_code == 404:
                    health = client.get("/health")
                    if health.status_code == 200 and health.json().get("status") == "ok":
                        return "/health"
                    last = f"/health: {health.status_code} {health.text[:200]}"
                else:
                    last = f"/health/ready: {ready.status_code} {ready.text[:200]}"
            except (httpx.HTTPError, ValueError) as exc:
                last = repr(exc)
            time.sleep(0.5)
    raise TimeoutError(f"{base_url} not ready after {timeout_s:.0f} s: {last}")


def run_load(
    base_url: str,
    kill: Callable[[], None],
    *,
    n_requests: int = 1000,
    n_clients: int = 16,
    kill_after: int | None = None,
    headers: dict[str, str] | None = None,
) -> LoadResult:
    """Send ``n_requests`` predictions from ``n_clients`` concurrent clients and call ``kill``
    (in its own thread) once ``kill_after`` answers have come back (default: a third)."""
    # Letters only: a hex id that happens to be all digits (2% of runs) reads as an
    # identifier to the de-identifier, which scrubs it from the stored texts checked below.
    run_id = "".join(random.choices(string.ascii_lowercase, k=8))
    kill_after = n_requests // 3 if kill_after is None else kill_after
    done = 0
    lock = threading.Lock()
    killed = threading.Event()

    def do_kill() -> None:
        kill()
        killed.set()

    killer = threading.Thread(target=do_kill, name="kill")

    def one(i: int) -> Answer:
        nonlocal done
        marker = f"lbtest-{run_id}-{i:05d}"
        gene, variation = VARIANTS[i % len(VARIANTS)]
        body = {
            "gene": gene,
            "variation": variation,
            "text": f"Case {marker}: the {gene} {variation} tumour responded to therapy.",
        }
        after = killed.is_set()
        try:
            response = client.post("/v1/predict", json=body, headers={"X-Request-Id": marker})
            status, text = response.status_code, response.text
        except httpx.HTTPError as exc:
            status, text = 0, repr(exc)
        prediction_id = None
        if 200 <= status < 300:
            prediction_id = response.json().get("id")
        with lock:
            done += 1
            if done == kill_after:
                killer.start()
        return Answer(marker, status, prediction_id, text, after)

    limits = httpx.Limits(max_connections=n_clients, max_keepalive_connections=n_clients)
    started = time.monotonic()
    with (
        httpx.Client(base_url=base_url, timeout=120, limits=limits, headers=headers) as client,
        ThreadPoolExecutor(n_clients) as pool,
    ):
        answers = list(pool.map(one, range(n_requests)))
    seconds = time.monotonic() - started
    if killer.ident is not None:
        killer.join()
    return LoadResult(run_id, answers, seconds, kill_after)


def cut_off(answer: Answer) -> bool:
    """Whether the answer was cut off in transfer: its body ended before its
    Content-Length (httpx's RemoteProtocolError), because the replica died while sending it."""
    return (
        answer.status == 0
        and answer.body.startswith("RemoteProtocolError(")
        and ("complete message body" in answer.body)
    )


def parse_access_log(lines: Iterable[str]) -> dict[str, str]:
    """Request id -> the replica that answered it (the last one nginx tried), from nginx's
    ``oncoclass`` log format."""
    upstream_of = {}
    pattern = re.compile(r'rid="([^"]*)" ustatus="[^"]*" upstream="([^"]*)"')
    for line in lines:
        if match := pattern.search(line):
            rid, upstreams = match.groups()
            upstream_of[rid] = upstreams.split(",")[-1].strip()
    return upstream_of


def check(
    result: LoadResult,
    rows: Iterable[tuple[int, str]],
    *,
    n_clients: int,
    survivors: set[str] | None = None,
    upstream_of: dict[str, str] | None = None,
) -> Summary:
    """Check the answers against the history ``rows`` (id, text) of this run; the summary's
    ``problems`` list every claim that does not hold (empty: all good).

    ``survivors`` (replica addresses as nginx logs them) with ``upstream_of`` (from
    ``parse_access_log``): every one of them, and only they, answered after the kill."""
    answers = result.answers
    stored: dict[int, str] = {}
    for row_id, row_text in rows:
        if match := MARKER.search(row_text or ""):
            stored[row_id] = match.group(0)
    per_marker = Counter(stored.values())
    ok = [a for a in answers if 200 <= a.status < 300]
    failed = [a for a in answers if not 200 <= a.status < 300]
    problems = []

    for a in ok:
        if a.prediction_id is None:
            problems.append(f"{a.marker}: {a.status} without a prediction id")
        elif stored.get(a.prediction_id) != a.marker:
            problems.append(f"{a.marker}: id {a.prediction_id} not stored with its marker")
    doubles = {m: n for m, n in per_marker.items() if n > 1}
    if doubles:
        problems.append(f"{len(doubles)} requests stored more than once, e.g. {min(doubles)}")
    sent = {a.marker for a in answers}
    strays = set(per_marker) - sent
    if strays:
        problems.append(f"{len(strays)} rows of markers never sent, e.g. {min(strays)}")

    for a in failed:
        if not (a.status in GATEWAY_ERRORS and a.body.strip()) and not cut_off(a):
            problems.append(f"{a.marker}: unclear failure {a.status}: {a.body[:200]!r}")
    if len(failed) > n_clients:
        problems.append(f"{len(failed)} failed requests: more than the {n_clients} in flight")
    if not ok:
        problems.append("no request succeeded")

    answered_after_kill: dict[str, int] = {}
    if upstream_of is not None:
        after = [a for a in ok if a.sent_after_kill]
        answered_after_kill = dict(Counter(upstream_of.get(a.marker, "?") for a in after))
        if survivors is not None and set(answered_after_kill) != survivors:
            problems.append(
                f"after the kill, answers came from {sorted(answered_after_kill)}, "
                f"not from the survivors {sorted(survivors)}"
            )
    if not any(a.sent_after_kill for a in ok):
        problems.append("no request sent after the kill succeeded")

    return Summary(
        requests=len(answers),
        ok=len(ok),
        failed=dict(Counter("cut off" if cut_off(a) else str(a.status) for a in failed)),
        rows=len(stored),
        failed_but_stored=sum(1 for a in failed if per_marker[a.marker]),
        seconds=result.seconds,
        answered_after_kill=answered_after_kill,
        problems=problems,
    )
