"""Reading PDFs back as a person would: the text on each page and the QR codes it shows."""

from __future__ import annotations

import pypdfium2
import zxingcpp


def pdf_pages(content: bytes) -> list[tuple[str, list[str]]]:
    """(text, decoded QR codes) of each page, rendered at 150 dpi."""
    document = pypdfium2.PdfDocument(content)
    pages = []
    try:
        for page in document:
            text = page.get_textpage().get_text_bounded()
            image = page.render(scale=150 / 72).to_pil()
            codes = [
                result.text
                for result in zxingcpp.read_barcodes(image)
                if result.format == zxingcpp.BarcodeFormat.QRCode
            ]
            pages.append((text, codes))
    finally:
        document.close()
    return pages
