"""Revocation and suspension (DESIGN §3.4; issue #6).

- ``service``: requests (registrar, officer), dual-control approval, the officer's
  decisions on lost-token reports, release at the counter.
- ``lost_reports``: the holder's lost-token report by registered e-mail and a
  one-time code, open at any hour.
- ``execution`` / ``jobs``: approved requests carried out through the CA
  connector after the commit; a CA that is down leaves them ``approved, awaiting
  the CA`` for the worker (``flask --app ra revocation work``).
- ``publication``, ``crl_der``, ``ocsp``, ``responder``: CRLs assembled from DER
  entries cached per revocation (``flask --app ra crl publish`` for cron), the
  published lists, and the embedded CA's delegated OCSP responder.
- ``hooks``: what token events, position changes and abandoned handovers hand to
  revocation; ``wiring`` plugs it all into the app.
"""
