"""QR codes of verification URIs (segno): inline on pages, or a standalone SVG for a device."""

from __future__ import annotations

import io

import segno

# Module size: on a page about 12rem wide; for a TV, big enough to scale down.
PAGE_QR_SCALE = 5
DEVICE_QR_SCALE = 8


def qr_data_uri(uri: str) -> str:
    """For an `<img>` on a page (the pages' CSP allows `data:` images, never inline SVG)."""
    return _qr(uri).svg_data_uri(scale=PAGE_QR_SCALE, dark="#000", light="#fff")


def qr_document(uri: str) -> bytes:
    """A standalone SVG: black on white with the 4-module quiet zone, so it scans on any
    background a device draws it on."""
    out = io.BytesIO()
    _qr(uri).save(out, kind="svg", scale=DEVICE_QR_SCALE, dark="#000", light="#fff")
    return out.getvalue()


def _qr(uri: str) -> segno.QRCode:
    return segno.make(uri, error="m", micro=False)
