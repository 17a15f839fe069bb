"""`flask --app wsgi push ...`: the operator's view of the hub's subscriptions."""

from __future__ import annotations

import json
import time
from urllib.parse import urlsplit

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from ..words import counted
from . import get, jobs, topics, work

push_cli = AppGroup("push", help="WebSub subscriptions and watches (docs/push.md).")


def init_app(app: Flask) -> None:
    app.cli.add_command(push_cli)


def _public(sub: dict) -> dict:
    """A subscription as shown: the secret is never printed, only whether there is one."""
    shown = {k: v for k, v in sub.items() if k != "secret"}
    shown["signed"] = bool(sub.get("secret"))
    return shown


def _find(prefix: str) -> dict:
    found = [s for s in get().subs.all() if s["id"].startswith(prefix)]
    if len(found) != 1:
        raise click.ClickException(f"{len(found)} subscriptions have an id starting with {prefix!r}")
    return found[0]


@push_cli.command("list")
def list_command() -> None:
    """One line per subscription: id, format, expires in, failures, callback host, topic."""
    now = time.time()
    subs = sorted(get().subs.all(), key=lambda s: (s["canonical"], s["callback"]))
    for sub in subs:
        host = urlsplit(sub["callback"]).hostname
        click.echo(f"{sub['id'][:12]}  {sub['format']:<13} {int(sub['expires'] - now):>8}s  "
                   f"failures={sub.get('failures', 0)}  {host}  {sub['canonical']}")
    watches = len({s["watch"] for s in subs})
    click.echo(f"{counted(len(subs), 'subscription')} on {counted(watches, 'watch', 'watches')}")


@push_cli.command("show")
@click.argument("subscription")
def show_command(subscription: str) -> None:
    """Everything about one subscription (id or a unique prefix of it), the secret left out."""
    sub = _find(subscription)
    push = get()
    shown = _public(sub)
    shown["behind"] = len(push.log.after(sub["watch"], sub.get("position") or "0").events)
    click.echo(json.dumps(shown, indent=2, sort_keys=True))


@push_cli.command("remove")
@click.argument("subscription")
def remove_command(subscription: str) -> None:
    """End a subscription now (no verification: the operator's decision)."""
    sub = _find(subscription)
    get().subs.delete(sub["id"])
    click.echo(f"removed {sub['id']} ({sub['callback']} on {sub['canonical']})")


@push_cli.command("poll")
@click.argument("topic")
def poll_command(topic: str) -> None:
    """Check TOPIC's watch against the upstream now; new photos are delivered by the consumer."""
    try:
        found = topics.resolve(current_app._get_current_object(), topic)
    except topics.TopicError as exc:
        raise click.ClickException(str(exc)) from None
    push = get()
    work.ensure_watch(push, found.watch, found.method, dict(found.args))
    new = work.check(push, found.watch)
    click.echo(f"{counted(new, 'new photo')} for {found.canonical}")


@push_cli.command("sweep")
def sweep_command() -> None:
    """End expired subscriptions and queue deliveries for those behind (the consumer does it every minute)."""
    jobs.sweep_now(get())
    click.echo("swept")
