"""Values a service definition and the domain share: strict models and texts in two languages.

At the bottom, so the domain (a decision's reasons, a remedy's authority) can use the same
types the definitions declare without importing the definitions (issue 18).
"""

from __future__ import annotations

from typing import Annotated

import pydantic
from pydantic import BaseModel, ConfigDict, StringConstraints
from pydantic_core import PydanticCustomError

Text = Annotated[str, StringConstraints(min_length=1)]


def located_problem(message: str, *at: str | int) -> PydanticCustomError:
    """A validation error that points below the validated node, so the loader finds the line."""
    return PydanticCustomError("definition", message, {"at": at})


class Strict(BaseModel):
    """Base of every definition and domain value model: unknown keys are errors, values frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class LocalizedText(Strict):
    """Text shown to citizens and clerks, always in German and English."""

    de: Text = pydantic.Field(description="German text (the legally binding version).")
    en: Text = pydantic.Field(description="English text.")

    def get(self, lang: str) -> str:
        """The text in one language, German for anything not English."""
        return self.en if lang == "en" else self.de
