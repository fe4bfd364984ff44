"""Wire contracts that two programs share: defined once, imported by both sides.

`device_link` is the device link between a unit's agent (helppoint/agent/) and the server
(helppoint/gateway/): its version, path, close codes, commands and refusals. This package
imports nothing of the server nor of the agent, and only the standard library, so the agent
installs and runs without the server's dependencies (tests/agent/test_agent_alone.py).
"""
