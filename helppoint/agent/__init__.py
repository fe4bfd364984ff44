"""The software on a help point unit: button, light, camera, prompts, outbox and device link.

Start with :class:`helppoint.agent.unit.Agent` and :func:`helppoint.agent.runner.run_agent`;
docs/agent.md explains installing and running it on a unit.
"""
