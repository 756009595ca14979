"""E-tokens (DESIGN §3.3): the stock, the PKCS#11 driver, and the steps the
counter handover is built from.

- ``stock_service``: batches, token events through the transition table, and the
  initialisation steps (``token_for_initialisation`` → ``begin_initialisation`` →
  ``initialise_token`` → ``set_user_pin`` … ``activate_token``), PIN unblock at the
  counter. The caller commits between steps.
- ``driver.Pkcs11TokenDriver`` (``ports.tokens``): one PKCS#11 operation per call,
  each naming the token by serial: ``list_slots``, ``init_token`` (the ``initshim``
  C_InitToken), ``set_so_pin``, ``init_user_pin``, ``generate_key_pair[_for_profile]``,
  ``get_key``, ``sign_csr``, ``put_certificate``, ``read_certificate``; and
  ``keeping_logins``, one user login for a handover run (``sessions``).
- ``softhsm`` / ``demo``: vendor-style SoftHSM2 stock tokens for tests and the demo.
"""
