"""Cameras of the scheme's existing CCTV estate: registry, live view, PTZ and clips
(docs/cameras.md)."""
