"""``hookplane serve``: run the runtime under uvicorn."""

from __future__ import annotations

import click

from hookplane.cli.common import database_url_option
from hookplane.cli.main import Context


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0 to expose it; put TLS in front).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--reload-interval", default=1.0, show_default=True, type=click.FloatRange(0.1),
              help="Seconds between checks for a new apply.")
@click.option("--workers", "concurrency", default=8, show_default=True,
              type=click.IntRange(1, 512), help="Concurrent outbound deliveries.")
@click.option("--processes", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Server processes sharing the port, each a whole runtime (one per core "
              "uses them all; inbound rate limits and console sign-outs apply per process).")
@click.option("--lease-seconds", default=60.0, show_default=True, type=click.FloatRange(1),
              help="How long a claimed delivery or job is held (at least the longest trigger "
              "timeout + 5 s for deliveries, the longest hydration or invoke timeout + 5 s for "
              "jobs). After a crash (kill -9 included) every row the dead process "
              "held, sent or only claimed ahead, is taken over by another replica (or the "
              "restarted one) when its lease ends: at most one lease after the crash, plus "
              "a 0.2 s poll (measured: at most 12.1 s with --lease-seconds 12).")
@click.option("--head-timeout", "head_seconds", default=10.0, show_default=True,
              type=click.FloatRange(0.1),
              help="Seconds a client has to send a request's headers; slower connections "
              "are closed (slowloris protection).")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
@click.option("--log-format", default="text", show_default=True,
              type=click.Choice(["text", "json"]),
              help="json: one JSON object per line (time, level, logger, message, request_id; "
                   "access lines add method, path, route, status, duration_ms, client). "
                   "Secrets are masked in both formats.")
@database_url_option
@click.pass_obj
def serve(obj: Context, *, host: str, port: int, reload_interval: float, concurrency: int,
          processes: int, lease_seconds: float, head_seconds: float, log_level: str,
          log_format: str, database_url: str | None) -> int:
    """Serve the applied configuration: ingest, records API, admin API, metrics."""
    from hookplane.runtime import processes as running
    from hookplane.state import Store

    settings = running.ServeSettings(
        host=host, port=port, root=obj.root, database_url=database_url,
        reload_interval=reload_interval, concurrency=concurrency,
        lease_seconds=lease_seconds, head_seconds=head_seconds, log_level=log_level,
        log_format="json" if log_format == "json" else "text")
    if processes > 1:
        # a database that cannot be opened fails here, once, not in every process
        Store.open(database_url, root=obj.root).close()
    return running.serve(settings, processes=processes)


def register(group: click.Group) -> None:
    group.add_command(serve)
