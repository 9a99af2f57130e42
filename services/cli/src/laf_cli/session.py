"""What every command shares: where the API is, the HTTP client, and how to print."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console, RenderableType

from laf_cli.client import Api
from laf_cli.config import Target, resolve

PIPE_WIDTH = 160


class Output(StrEnum):
    table = "table"
    json = "json"


OutputOption = Annotated[
    Output,
    typer.Option(
        "--output", "-o", help="table for people; json: one JSON document on stdout, nothing else"
    ),
]


def console(no_color: bool, stderr: bool = False) -> Console:
    """`--no-color`: plain text, no styles at all (NO_COLOR alone drops only colours)."""
    if no_color:
        return Console(stderr=stderr, color_system=None, highlight=False)
    return Console(stderr=stderr, highlight=False)


@dataclass
class Session:
    url_flag: str | None = None
    token_flag: str | None = None
    no_color: bool = False
    _target: Target | None = None
    _api: Api | None = None
    out: Console = field(init=False)
    err: Console = field(init=False)

    def __post_init__(self) -> None:
        self.out = console(self.no_color)
        self.err = console(self.no_color, stderr=True)
        if not self.out.is_terminal and "COLUMNS" not in os.environ:
            self.out.width = PIPE_WIDTH  # a log or a file: wide lines beat squeezed tables

    @property
    def target(self) -> Target:
        if self._target is None:
            self._target = resolve(self.url_flag, self.token_flag)
        return self._target

    @property
    def api(self) -> Api:
        if self._api is None:
            self._api = Api(self.target)
        return self._api

    def close(self) -> None:
        if self._api is not None:
            self._api.close()

    def emit(self, output: Output, document: Any, view: RenderableType | str) -> None:
        """One JSON document, or the view for people."""
        if output is Output.json:
            sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
            sys.stdout.flush()
        else:
            self.out.print(view)

    def plain(self, text: str) -> None:
        """One bare line on stdout, for `$(laf … -q)`."""
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def note(self, message: str) -> None:
        """A remark for people, on stderr (so stdout stays the answer)."""
        self.err.print(message)


def session(ctx: typer.Context) -> Session:
    found = ctx.find_object(Session)
    if found is None:  # a command invoked without the root callback (tests of one command)
        found = ctx.ensure_object(Session)
    return found
