"""Domain exceptions: each says what rule was broken, in words an operator can act on."""


class DomainError(Exception):
    """Base class for a broken business rule."""


class InvalidTransition(DomainError):
    """An incident cannot move from its current state to the requested one."""


class AlreadyClaimed(DomainError):
    """Another operator acknowledged the incident first."""


class NotFound(DomainError):
    """The thing asked for does not exist."""


class InvalidInput(DomainError):
    """A value given to the domain is not acceptable."""
