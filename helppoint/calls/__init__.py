"""Calls between a unit and an operator: the server-side media hub, recording and retention.

See docs/calls.md. The server is the hub: one WebRTC peer towards the unit's agent, one towards
the operator's browser, media relayed between them and recorded per incident.
"""
