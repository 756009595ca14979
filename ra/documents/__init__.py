"""Every printed document is rendered here with WeasyPrint.

The URL fetcher serves only the assets packaged beside this file: no ``file:``
path, no network. A template that names anything else fails loudly instead of
leaking local files or calling out (Indico's receipts module does the same).
"""
from __future__ import annotations

import mimetypes
from pathlib import Path

ASSETS = Path(__file__).parent / "assets"
ASSET_BASE = "https://assets.ra.invalid/"


def _asset_path(url: str) -> Path:
    if not url.startswith(ASSET_BASE):
        raise ValueError(f"refused to fetch {url!r}: only packaged assets may be used")
    relative = url[len(ASSET_BASE):].split("?", 1)[0].split("#", 1)[0]
    path = (ASSETS / relative).resolve()
    if ASSETS.resolve() not in path.parents or not path.is_file():
        raise ValueError(f"refused to fetch {url!r}: no such packaged asset")
    return path


def _fetcher():
    from weasyprint.urls import FatalURLFetchingError, URLFetcher, URLFetcherResponse

    class AssetFetcher(URLFetcher):
        """Packaged assets only; anything else stops the rendering."""

        def fetch(self, url, headers=None):
            try:
                path = _asset_path(url)
            except ValueError as exc:
                raise FatalURLFetchingError(str(exc)) from None
            mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": mime})

    return AssetFetcher()


class DocumentRenderer:
    """Renders ``documents/<name>.html`` from the app's Jinja environment to PDF in
    the given locale. Every document carries its number in the header and
    "page N of M" in the footer (see ``documents/base.html``)."""

    def __init__(self, app):
        self.app = app

    def render(self, template: str, *, number: str, title: str, locale: str = "mn", **context) -> bytes:
        from flask_babel import force_locale
        from weasyprint import HTML

        with self.app.app_context(), force_locale(locale):
            html = self.app.jinja_env.get_template(f"documents/{template}").render(
                document_number=number, document_title=title, asset_base=ASSET_BASE, locale=locale, **context
            )
            return HTML(string=html, base_url=ASSET_BASE, url_fetcher=_fetcher()).write_pdf(
                pdf_identifier=number.encode("utf-8"), uncompressed_pdf=False
            )
