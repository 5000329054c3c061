"""API schemas shared by every app's router."""

from ninja import Schema


class FieldError(Schema):
    field: str | None
    message: str


class ErrorOut(Schema):
    """The body of every 4xx answer: a message, and the fields it concerns."""

    detail: str
    errors: list[FieldError] = []
