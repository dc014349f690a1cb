"""What every app's forms share."""

from __future__ import annotations


class NoColon:
    """Labels without Django's trailing colon (the pages use their own layout): mix in
    before the form class."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)  # type: ignore[call-arg]
