import pytest


@pytest.fixture
def rctx(app):
    """An app and request context, so translated messages can be read (English
    by the Accept-Language header, as an integrator would ask)."""
    with app.test_request_context(headers={"Accept-Language": "en"}, path="/api/v1/"):
        yield app
