"""The holder in their own right (DESIGN §2 ``holder``): the person's account,
keyed on the register number, and their pages under ``/me``."""


def init_app(app) -> None:
    import ra.holder.models  # noqa: F401  (for Alembic and relationship resolution)
    from ra.holder.views import bp

    app.register_blueprint(bp)
