"""HTML to PDF with WeasyPrint, offline: the document carries its own styles and drawings, and
no address is fetched (only ``data:`` URLs are read). Chinese is set in Noto Sans CJK SC."""

from __future__ import annotations


def pdf_bytes(html: str) -> bytes:
    # imported here: WeasyPrint loads Pango at import, and only the PDF needs it
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    pdf: bytes = HTML(string=html, url_fetcher=URLFetcher(allowed_protocols={"data"})).write_pdf()
    return pdf
