"""What the commands that create accounts share: how a new account gets its first password."""

from __future__ import annotations

from argparse import ArgumentParser


def set_password_link_arguments(parser: ArgumentParser, *, who: str) -> None:
    """``--link`` (a one-time set-password link instead of a password) and ``--base-url``."""
    parser.add_argument(
        "--link",
        action="store_true",
        help=f"{who} get a one-time set-password link instead of an initial password",
    )
    parser.add_argument(
        "--base-url",
        default="",
        help="prefix for printed links, e.g. https://readerstudy.example.org",
    )
