"""Backups of an installation and their restore (`helppoint backup DEST`, `helppoint restore SRC`).

A backup is a directory: the database (SQLite through its online backup API, PostgreSQL through
`pg_dump`), the evidence files the database refers to (call recordings, press audio, camera
clips), the credentials key file, and `manifest.json` with the SHA-256 of every one of them.
Camera stills and uploaded prompts live in the database and come with it. A restore checks the
manifest, restores into a fresh database, migrates it to this release, and reports it good
only once the audit chain, every recording's and clip's hash and every still's and prompt's
hash check out; otherwise it undoes what it did. See docs/deployment.md, Backup and restore.
"""
