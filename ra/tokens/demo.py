"""SoftHSM2 stock tokens for tests, benchmarks and the demo (issue #5): made the way
a vendor ships them, then received into stock with their factory SO PIN."""
from __future__ import annotations

from ra.tokens import stock_service as service
from ra.tokens.pins import random_so_pin, random_transport_pin


def make_softhsm_stock(session, actor, count: int, *, ports, model: str = "SoftHSM2 (development)",
                       supplier: str = "SoftHSM project"):
    """``count`` new SoftHSM2 tokens with one random factory SO PIN (never shown),
    made visible to the running module; received as one batch when ``actor`` is
    given. Returns (serials, batch or None). The caller commits."""
    driver = ports.tokens
    if driver.softhsm is None:
        raise RuntimeError("the configured PKCS#11 module is not SoftHSM2")
    factory_so_pin = random_so_pin(16)
    serials = driver.softhsm.create_stock(count, so_pin=factory_so_pin, user_pin=random_transport_pin())
    driver.rescan()
    batch = None
    if actor is not None:
        batch = service.receive_batch(session, actor, service.BatchData(
            model=model, supplier=supplier, received_on=ports.clock.today(), serials="\n".join(serials),
            factory_so_pin=factory_so_pin), ports=ports)
    return serials, batch
