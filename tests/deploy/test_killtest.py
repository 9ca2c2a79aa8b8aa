"""The kill test's own verdicts (deploy/killtest.py), on made-up answers: what counts as a clear
failure and what does not."""

from __future__ import annotations

import killtest  # deploy/killtest.py (conftest puts deploy/ on sys.path)


def _answers(failure: killtest.Answer) -> killtest.LoadResult:
    ok = [
        killtest.Answer(f"lbtest-ab-{i:05d}", 200, i, "{}", sent_after_kill=i > 1)
        for i in range(1, 4)
    ]
    return killtest.LoadResult("ab", [*ok, failure], seconds=1.0, killed_after=1)


ROWS = [(i, f"Case lbtest-ab-{i:05d}: ...") for i in range(1, 4)]


def test_a_502_with_a_body_and_an_answer_cut_off_in_transfer_are_clear_failures() -> None:
    gateway = killtest.Answer("lbtest-ab-00004", 502, None, '{"detail": "no replica"}', True)
    assert killtest.check(_answers(gateway), ROWS, n_clients=4).problems == []
    # The replica died while sending: the body ends before its Content-Length.
    cut = killtest.Answer(
        "lbtest-ab-00004",
        0,
        None,
        "RemoteProtocolError('peer closed connection without sending complete message body "
        "(received 79640 bytes, expected 81173)')",
        True,
    )
    summary = killtest.check(_answers(cut), [*ROWS, (9, "Case lbtest-ab-00004")], n_clients=4)
    assert summary.problems == []
    assert summary.failed == {"cut off": 1} and summary.failed_but_stored == 1


def test_other_failures_are_problems() -> None:
    for failure in (
        killtest.Answer("lbtest-ab-00004", 0, None, "ConnectError('refused')", True),
        killtest.Answer("lbtest-ab-00004", 500, None, "Internal Server Error", True),
        killtest.Answer("lbtest-ab-00004", 502, None, "", True),
    ):
        problems = killtest.check(_answers(failure), ROWS, n_clients=4).problems
        assert any("unclear failure" in p for p in problems), failure
