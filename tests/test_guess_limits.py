"""The limits on guessing codes hold against a burst: guesses that arrive together are
checked and counted one at a time, so no more are checked than the limit allows.

A wrong guess is a Refusal whose record (the count) must be kept although the request is
refused; the check and the count are one step (pb.db keeps a refusal's record in the
transaction that refused, under the same locks, when it wrote nothing else)."""

import re
import threading

from tests.conftest import FormClient
from tests.test_delivery import published  # noqa: F401 (a fixture)
from tests.test_voting import voting  # noqa: F401 (a fixture)


def _burst(count, send):
    """Send `count` requests at once, from as many threads; their answers' bodies."""
    barrier = threading.Barrier(count)
    bodies = [""] * count

    def go(i):
        barrier.wait()
        bodies[i] = send(i).get_data(as_text=True)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return bodies


def test_a_burst_of_wrong_voting_codes_is_checked_no_more_than_the_limit(app, voting):
    page = f"/rounds/{voting['round']}/vote"
    clients = [FormClient(app) for _ in range(40)]
    tokens = [client.csrf_token(page) for client in clients]
    bodies = _burst(
        40,
        lambda i: clients[i].http.post(f"{page}/code", data={"code": f"AAAA-BBBB-{i:04d}", "csrf_token": tokens[i]}),
    )
    checked = sum("That code is not right" in body for body in bodies)
    limited = sum("Too many attempts" in body for body in bodies)
    assert checked == 20, bodies  # pb.voting.services.voter_by_code: 20 wrong guesses per client in 15 minutes
    assert limited == 20


def test_a_burst_of_wrong_one_time_codes_is_checked_no_more_than_five_times(app, voting):
    resident = FormClient(app)
    start = f"/rounds/{voting['round']}/vote"
    response = resident.submit(f"{start}/email", {"email": "res@example.org", "postcode": "ls11 2ab"}, page=start)
    assert response.status_code == 302
    code = re.search(r"\b(\d{6})\b", app.extensions["pb_outbox"][-1].body).group(1)
    token = resident.csrf_token(f"{start}/email/code")
    cookie = resident.http.get_cookie("session")
    clients = []
    for _ in range(20):  # one challenge, shared by copying the session cookie
        client = FormClient(app)
        client.http.set_cookie("session", cookie.value, domain=cookie.domain)
        clients.append(client)
    bodies = _burst(
        20,
        lambda i: clients[i].http.post(
            f"{start}/email/code", data={"code": f"{(int(code) + 1 + i) % 10**6:06d}", "csrf_token": token}
        ),
    )
    checked = sum("That code is not right" in body for body in bodies)
    assert checked == 5, bodies  # EMAIL_CODE_TRIES
    assert sum("Too many wrong codes" in body for body in bodies) == 15


def test_a_burst_of_wrong_codes_for_a_verdict_is_checked_no_more_than_the_limit(app, published):
    page = f"/rounds/{published['round']}/residents"
    clients = [FormClient(app) for _ in range(30)]
    tokens = [client.csrf_token(page) for client in clients]
    bodies = _burst(
        30,
        lambda i: clients[i].http.post(f"{page}/code", data={"code": f"AAAA-BBBB-{i:04d}", "csrf_token": tokens[i]}),
    )
    checked = sum("That code is not right" in body for body in bodies)
    assert checked == 20, bodies  # pb.delivery.verdicts.resident_by_code: 20 wrong guesses per client in 15 minutes
    assert sum("Too many attempts" in body for body in bodies) == 10
