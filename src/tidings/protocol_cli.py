"""``tidings protocol``: the protocol's own documents, for client SDKs."""

from __future__ import annotations

from pathlib import Path

import orjson
import typer

protocol_cli = typer.Typer(help="The real-time protocol's machine-readable description.",
                           no_args_is_help=True,
                  rich_markup_mode=None)


@protocol_cli.command("schema")
def schema(
    out: Path | None = typer.Option(None, "--out", "-o",
                                    help="Write to this file instead of standard output."),
) -> None:
    """The JSON Schema of every op, reply and event (the TypeScript SDK's
    types are generated from it). The same input always gives the same bytes."""
    from tidings.protocol.schema import protocol_schema

    text = orjson.dumps(protocol_schema(),
                        option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    if out is None:
        typer.echo(text.decode(), nl=False)
    else:
        out.write_bytes(text)
        typer.echo(f"wrote {out} ({len(text)} bytes)", err=True)
