"""SIP help points: standard SIP intercoms as units (docs/sip.md)."""
