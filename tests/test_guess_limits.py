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


def test_a_burst_of_wrong_passwords_is_checked_no_more_than_the_limit(app, make_user):
    """Guesses at one account's password sent together are checked and counted one at a
    time, as voting-code guesses are: no more than SIGN_IN_LIMIT are checked, however many
    arrive at once (on PostgreSQL 15 to 17 of 40 were, before the keys were serialised)."""
    make_user("lead@council.example")
    burst = 40
    clients = [FormClient(app) for _ in range(burst)]
    tokens = [client.csrf_token("/sign-in") for client in clients]
    barrier = threading.Barrier(burst)
    bodies = [""] * burst

    def guess(i):
        barrier.wait()
        response = clients[i].http.post(
            "/sign-in", data={"email": "lead@council.example", "password": f"guess number {i}", "csrf_token": tokens[i]}
        )
        bodies[i] = response.get_data(as_text=True)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(burst)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    checked = sum("do not match" in body for body in bodies)
    waited = sum("Too many wrong passwords" in body for body in bodies)
    assert checked == app.config["SIGN_IN_LIMIT"], f"{checked} passwords checked for one account in one burst"
    assert checked + waited == burst
