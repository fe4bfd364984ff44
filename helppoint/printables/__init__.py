"""Printed material for the public: a sign per help point and a leaflet map (PDF, with QR codes).

See docs/public-pages.md. Generated with reportlab (PDF) and segno (QR codes), drawn as vectors
so they stay sharp at any print size.
"""
