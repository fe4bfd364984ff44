"""Classification codes an operator gives an incident, and what each one means for reports."""

from __future__ import annotations

import enum


class Category(enum.StrEnum):
    """How a classification counts in reports."""

    GENUINE = "genuine"
    FALSE = "false"
    TECHNICAL = "technical"
    UNKNOWN = "unknown"


class Classification(enum.StrEnum):
    """The operator's judgement of what an incident was."""

    IMMINENT_THREAT = "imminent_threat"
    CONCERN = "concern"
    MEDICAL = "medical"
    INFORMATION = "information"
    FALSE_ACCIDENTAL = "false_accidental"
    FALSE_MALICIOUS = "false_malicious"
    FALSE_TEST = "false_test"
    TECHNICAL = "technical"
    SILENT = "silent"

    @property
    def label(self) -> str:
        """Human-readable name, as shown in the console."""
        return _LABELS[self]

    @property
    def category(self) -> Category:
        """Genuine, false, technical or unknown, for reports."""
        return _CATEGORIES[self]

    @property
    def is_false(self) -> bool:
        """True for the three false-activation codes."""
        return self.category is Category.FALSE


_LABELS: dict[Classification, str] = {
    Classification.IMMINENT_THREAT: "Imminent threat",
    Classification.CONCERN: "Concern / advice",
    Classification.MEDICAL: "Medical",
    Classification.INFORMATION: "Information request",
    Classification.FALSE_ACCIDENTAL: "False: accidental",
    Classification.FALSE_MALICIOUS: "False: malicious",
    Classification.FALSE_TEST: "False: test",
    Classification.TECHNICAL: "Technical fault",
    Classification.SILENT: "Silent / no response",
}

_CATEGORIES: dict[Classification, Category] = {
    Classification.IMMINENT_THREAT: Category.GENUINE,
    Classification.CONCERN: Category.GENUINE,
    Classification.MEDICAL: Category.GENUINE,
    Classification.INFORMATION: Category.GENUINE,
    Classification.FALSE_ACCIDENTAL: Category.FALSE,
    Classification.FALSE_MALICIOUS: Category.FALSE,
    Classification.FALSE_TEST: Category.FALSE,
    Classification.TECHNICAL: Category.TECHNICAL,
    Classification.SILENT: Category.UNKNOWN,
}
