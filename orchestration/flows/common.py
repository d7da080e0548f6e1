"""Small helpers shared by the flows (no pipeline logic lives here)."""

from __future__ import annotations

import argparse
import inspect
import sys
import types
import typing
from datetime import UTC, date, datetime
from typing import Any, Literal

from prefect import Flow

from lakehouse.dates import parse_run_date


def resolve_run_date(run_date: date | str | None) -> date:
    """The logical date: the given one, else the scheduled start of this flow run (so a late or retried
    scheduled run still processes its own night), else today in UTC."""
    if isinstance(run_date, str):
        return parse_run_date(run_date, "run_date")
    if run_date is not None:
        return run_date
    from prefect.runtime import flow_run

    scheduled = flow_run.scheduled_start_time
    if scheduled is not None:
        return datetime.fromisoformat(str(scheduled)).astimezone(UTC).date()
    return datetime.now(UTC).date()


class OneLineParser(argparse.ArgumentParser):
    """argparse with its usage errors in one line (exit code 2, as argparse): `<prog>: <what is wrong>`."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"{self.prog}: {message} (--help lists the options)\n")


def _date_argument(text: str) -> date:
    try:
        return parse_run_date(text)
    except ValueError as exc:  # argparse reports an ArgumentTypeError's own message
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--date ")) from None


def _option(parser: argparse.ArgumentParser, name: str, hint: Any, default: Any) -> None:
    """One command-line option for a flow parameter, from its type."""
    flag = "--date" if name == "run_date" else "--" + name.replace("_", "-")
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    kind = next(a for a in typing.get_args(hint) if a is not type(None)) if union else hint
    help_text = f"default: {default}"
    if kind is bool:
        parser.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction, default=default)
    elif kind is date:
        parser.add_argument(flag, dest=name, type=_date_argument, default=default, help="YYYY-MM-DD")
    elif typing.get_origin(kind) is Literal:
        parser.add_argument(flag, dest=name, choices=typing.get_args(kind), default=default, help=help_text)
    elif typing.get_origin(kind) is list:
        parser.add_argument(
            flag, dest=name, action="append", default=default, help=f"repeatable; {help_text}"
        )
    else:
        parser.add_argument(flag, dest=name, type=kind, default=default, help=help_text)


def flow_arguments(flow: Flow[..., Any], argv: list[str] | None = None) -> dict[str, Any]:
    """Parse `argv` into the flow's parameters: every parameter is an option (run_date is --date)."""
    parser = OneLineParser(description=(flow.fn.__doc__ or flow.name).strip())
    hints = typing.get_type_hints(flow.fn)
    for name, parameter in inspect.signature(flow.fn).parameters.items():
        _option(parser, name, hints.get(name, str), parameter.default)
    return vars(parser.parse_args(argv))


def run_flow_cli(flow: Flow[..., Any], argv: list[str] | None = None) -> None:
    """`python <flow file> [--date D] [options]`: run the flow with telemetry off; exit 1 when it raises or
    returns False, in one line (a Prefect server that cannot start says what to do)."""
    from lakehouse.settings import (
        apply_runtime_defaults,
        exit_on_prefect_server_problem,
        exit_on_settings_problem,
        get_settings,
    )

    apply_runtime_defaults()  # also Prefect's start-up limit for a busy machine (Prefect is imported already)
    arguments = flow_arguments(flow, argv)
    with exit_on_settings_problem():  # one line and exit 2 before the flow starts (and logs a traceback)
        get_settings()
    try:
        with exit_on_prefect_server_problem():
            result = flow(**arguments)
    except Exception as exc:  # the flow's own log has the details; say what failed in one line
        print(f"{flow.name} failed: {type(exc).__name__}: {str(exc).strip()}", file=sys.stderr)
        raise SystemExit(1) from None
    if result is False:  # a flow that reports failure by returning False
        raise SystemExit(1)
