"""Work after the commit is not the request's outcome: when the contract annex of a
newly added holder fails to render, the holder is still saved and the client is
told so (201); the annex stays pending and the worker command makes it later."""
from __future__ import annotations

import dataclasses

from ra.enrollment import holders_service as hs
from ra.enrollment.holder_models import Holder
from ra.enrollment.models import Organisation
from ra.extensions import db
from tests.enrollment.helpers import active_org, api_token, holder_data


def test_an_annex_that_fails_after_the_commit_leaves_a_saved_holder_and_is_retried(app, client, ports,
                                                                                  monkeypatch):
    with app.app_context():
        org, registrar, _ = active_org(db.session, ports)
        body = {k: v for k, v in dataclasses.asdict(holder_data(org)).items() if v is not None}
        org_id, bearer = org.id, api_token(db.session, registrar)
        db.session.commit()
    render = ports.documents.render

    def broken(template, **kw):
        if template == "annex.html":
            raise RuntimeError("the PDF renderer crashed")
        return render(template, **kw)

    monkeypatch.setattr(ports.documents, "render", broken)
    resp = client.post(f"/api/v1/organisations/{org_id}/holders", json=body,
                       headers={"Authorization": f"Bearer {bearer}"})
    assert resp.status_code == 201, resp.get_json()
    holder_id = resp.get_json()["id"]
    with app.app_context():
        assert db.session.get(Holder, holder_id).listed_in is None
        assert hs.pending_annex_count(db.session, db.session.get(Organisation, org_id)) == 1

    monkeypatch.setattr(ports.documents, "render", render)
    done = app.test_cli_runner().invoke(args=["enrollment", "annexes"])
    assert done.exit_code == 0 and "annexes generated: 1" in done.output, done.output
    with app.app_context():
        assert db.session.get(Holder, holder_id).listed_in.endswith("-Х2")
