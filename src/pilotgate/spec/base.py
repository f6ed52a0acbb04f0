"""The one base every pilot.yaml model shares, so all sections behave the same way."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class SpecModel(BaseModel):
    """A declared pilot.yaml mapping: unknown keys are errors, types are strict, fields documented.

    Strict types keep YAML honest (`retries: "2"` and `enabled: "no"` are mistakes, not values to
    guess at); hidden inputs keep a mistyped secret out of a printed ValidationError.
    """

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        use_attribute_docstrings=True,
        hide_input_in_errors=True,
    )
