"""A holder who has lost a token rarely has its serial at hand: the public form
takes the register number (either form) and a registered work e-mail, the code
goes to that e-mail, and its confirmation lists the person's tokens to pick."""
from __future__ import annotations

import re

import sqlalchemy as sa

from ra.enrollment import register_number as rn
from ra.enrollment.holder_models import Holder
from ra.extensions import db
from ra.tokens.models import Token
from ra.tokens.states import TokenStatus
from tests.conftest import csrf_from
from tests.revocation.conftest import code_in, issue, reference_in


def _post(client, path, data):
    token = csrf_from(client.get(path).get_data(as_text=True))
    return client.post(path, data={**data, "csrf_token": token}, buffered=True)


def _statuses(app, *token_ids):
    with app.app_context():
        return [db.session.get(Token, t).status for t in token_ids]


def _two_tokens(app, ports, world):
    with app.app_context():
        first = issue(ports, world)
        holder = db.session.get(Holder, first.holder_id)
        second = issue(ports, world, holder=holder, profile="authentication")
        return first, second, holder.register_number


def test_the_holder_picks_the_lost_token_among_theirs_without_knowing_its_serial(app, client, ports, world, mail):
    first, second, number = _two_tokens(app, ports, world)
    mail.clear()
    sent = _post(client, "/lost-token", {"email": first.holder_email, "register_number": rn.semantics_identifier(number)})
    assert sent.status_code == 303
    [message] = mail.to(first.holder_email)
    url, code = f"/lost-token/{reference_in(message)}", code_in(message)

    # The code proves the person; the page lists both tokens and carries the code on.
    listing = _post(client, url, {"code": code, "lost": "misplaced"})
    page = listing.get_data(as_text=True)
    assert listing.status_code == 200 and 'id="tokens"' in page
    assert first.token_serial in page and second.token_serial in page
    assert _statuses(app, first.token_id, second.token_id) == [TokenStatus.ACTIVE, TokenStatus.ACTIVE]

    # Only the picked one is suspended.
    done = _post(client, url, {"code": code, "lost": "misplaced", "token": second.token_serial})
    assert done.status_code == 200, done.get_data(as_text=True)[:1000]
    assert _statuses(app, first.token_id, second.token_id) == [TokenStatus.ACTIVE, TokenStatus.SUSPENDED]
    # The code is used up.
    again = _post(client, url, {"code": code, "lost": "misplaced", "token": first.token_serial})
    assert again.status_code == 409 and _statuses(app, first.token_id)[0] == TokenStatus.ACTIVE


def test_all_of_the_persons_tokens_at_once(app, client, ports, world, mail):
    first, second, number = _two_tokens(app, ports, world)
    mail.clear()
    _post(client, "/lost-token", {"email": first.holder_email.upper(), "register_number": number.lower()})
    [message] = mail.to(first.holder_email)
    done = _post(client, f"/lost-token/{reference_in(message)}",
                 {"code": code_in(message), "lost": "lost", "token": [first.token_serial, second.token_serial]})
    assert done.status_code == 200
    assert _statuses(app, first.token_id, second.token_id) == [TokenStatus.LOST, TokenStatus.LOST]


def test_the_answer_is_the_same_for_a_match_and_a_mismatch(app, client, ports, world, mail):
    with app.app_context():
        issued = issue(ports, world)
        number = db.session.get(Holder, issued.holder_id).register_number
    mail.clear()
    answers = [_post(client, "/lost-token", data) for data in (
        {"email": issued.holder_email, "register_number": number},
        {"email": "someone@example.com", "register_number": number},
        {"email": issued.holder_email, "register_number": "ЖЖ99999999"},
        {"email": issued.holder_email, "register_number": "not a number"})]
    assert {a.status_code for a in answers} == {303}
    shapes = {re.sub(r"/lost-token/[A-Za-z0-9_-]{22}\?", "/lost-token/ID?", a.headers["Location"]) for a in answers}
    assert len(shapes) == 1
    pages = {client.get(a.headers["Location"]).get_data(as_text=True).count("\n") for a in answers}
    assert len(pages) == 1                                    # the page it opens is the same too
    assert len(mail.to(issued.holder_email)) == 1             # only the match sent a code
    with app.app_context():
        unmatched = db.session.execute(sa.text(
            "SELECT count(*) FROM audit_record WHERE action = 'lost_token_report.unmatched'")).scalar()
    assert unmatched == 3
