"""``GET /metrics`` (issue 17, point 3; docs/operations.md, "Metrics"): it
counts a sent message (committed, delivered, acked, in a writer batch), and
it is open to loopback peers that no proxy forwarded, or to the bearer of
``TIDINGS_METRICS_TOKEN``, never to the world by default."""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests import media_files
from tests.app_server import closed_port
from tests.support import App, Conn, Server, error_of


def scrape(server: Server, **headers: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    reply = httpx.get(f"{server.base_url}/metrics", headers=headers, timeout=10)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(reply.text) for s in family.samples}


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str,
          **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_count_a_sent_message(server: Server, app: App, users: Any) -> None:
    alice, bob = users("alice"), users("bob")
    a = await Conn.login(server, app, alice)
    b = await Conn.login(server, app, bob)
    before = scrape(server)
    reply = await a.send_text(f"c2c_{bob}", "counted")
    assert reply["ok"], reply
    await b.event("message")
    assert (await b.request("history", {"conversation_id": f"c2c_{alice}"}))["ok"]
    assert (await b.request("sync", {"known": {}}))["ok"]
    after = scrape(server)
    await a.close()
    await b.close()

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("tidings_entries_committed_total", kind="message", conversation="c2c") == 1
    assert grew("tidings_frames_delivered_total", kind="message") == 1  # bob's one device
    assert grew("tidings_ack_latency_seconds_count") == 1
    assert grew("tidings_writer_batch_size_count") >= 1
    assert grew("tidings_writer_commit_seconds_count") >= 1
    assert grew("tidings_ws_op_seconds_count", op="history") == 1
    assert grew("tidings_ws_op_seconds_count", op="sync") == 1
    assert value(after, "tidings_sessions_logged_in") >= 2
    assert value(after, "tidings_ws_connections_open") >= 2
    # Read at scrape time: the durable queues are there, empty or not.
    assert ("tidings_queue_depth", (("queue", "callbacks"),)) in after
    assert ("tidings_queue_oldest_age_seconds", (("queue", "push_sends"),)) in after
    # The scrape before this one is counted by route template, and errors by code.
    assert value(after, "tidings_http_requests_total", method="GET", route="/metrics",
                 status="200") >= 1


async def test_errors_are_counted_by_code(server: Server) -> None:
    before = scrape(server)
    with server.http() as http:
        assert http.get("/v1/conversations").status_code == 401
    after = scrape(server)
    assert (value(after, "tidings_errors_total", edge="http", code="70002")
            - value(before, "tidings_errors_total", edge="http", code="70002")) == 1


async def test_a_failed_callback_is_counted_by_event(server: Server, app: App,
                                                      users: Any) -> None:
    """The app's server is down: its before-send callback fails (and the
    message goes through, by the default policy), counted and timed."""
    with server.http(app, app.admin) as http:
        assert http.put("/v1/admin/callbacks", json={
            "url": f"http://127.0.0.1:{closed_port()}/cb"}).status_code == 200
    a = await Conn.login(server, app, users("alice"))
    before = scrape(server)
    assert (await a.send_text(f"c2c_{users('bob')}", "through anyway"))["ok"]
    after = scrape(server)
    await a.close()
    for name in ("tidings_callback_failures_total", "tidings_callback_seconds_count"):
        assert (value(after, name, event="before_send")
                - value(before, name, event="before_send")) == 1, name


def test_stored_media_bytes_are_counted(server: Server, app: App, users: Any) -> None:
    data = media_files.wav()
    before = scrape(server)
    with server.http(app, users("uploader")) as http:
        reply = http.post("/v1/media", content=data, params={"name": "hi.wav"})
    assert reply.status_code == 200, reply.text
    grew = (value(scrape(server), "tidings_media_bytes_stored_total")
            - value(before, "tidings_media_bytes_stored_total"))
    assert grew == len(data) == reply.json()["size"]


def test_a_forwarded_request_is_refused_without_a_token(server: Server) -> None:
    """A reverse proxy on the same host is a loopback peer: what it forwards
    (X-Forwarded-For, Forwarded) is from elsewhere."""
    for header in ({"X-Forwarded-For": "203.0.113.9"}, {"Forwarded": "for=203.0.113.9"}):
        reply = httpx.get(f"{server.base_url}/metrics", headers=header, timeout=10)
        assert error_of(reply) == (403, 90009)


def test_with_a_token_the_bearer_reads_them_and_no_one_else(make_server: Any) -> None:
    server: Server = make_server(metrics_token="s3cret-scrape")
    assert error_of(httpx.get(f"{server.base_url}/metrics", timeout=10)) == (401, 70030)
    wrong = httpx.get(f"{server.base_url}/metrics", timeout=10,
                      headers={"Authorization": "Bearer nope"})
    assert error_of(wrong) == (401, 70030)
    samples = scrape(server, Authorization="Bearer s3cret-scrape", **{
        "X-Forwarded-For": "203.0.113.9"})
    assert ("tidings_ws_connections_open", ()) in samples


def test_metrics_can_be_turned_off(make_server: Any) -> None:
    server: Server = make_server(metrics_enabled="false")
    assert error_of(httpx.get(f"{server.base_url}/metrics", timeout=10)) == (404, 10010)


def test_the_grafana_dashboard_reads_only_metrics_that_exist() -> None:
    """deploy/grafana/tidings.json names no metric that the server lacks
    (a renamed metric would leave a panel silently empty)."""
    import json
    import re
    from pathlib import Path

    from tidings import metrics

    dashboard = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "tidings.json"
    doc = json.loads(dashboard.read_text())
    used = {name for panel in doc["panels"] for target in panel.get("targets", ())
            for name in re.findall(r"\b(?:tidings|process)_[a-z_]+", target["expr"])}
    # By family (a labelled metric has no sample until its first count).
    suffixes = {"counter": ("_total",), "gauge": ("",),
                "histogram": ("_bucket", "_sum", "_count")}
    exposed = {family.name + suffix for family in metrics.REGISTRY.collect()
               for suffix in suffixes.get(family.type, ("",))}
    assert len(used) > 15
    assert used - exposed == set(), sorted(used - exposed)


def test_the_loop_histogram_counts_as_prometheus_buckets_do() -> None:
    """Bucket ``le=b`` counts every value <= b (cumulative), ``+Inf`` all."""
    from prometheus_client import CollectorRegistry, generate_latest

    from tidings.metrics import LoopHistogram

    registry = CollectorRegistry()
    h = LoopHistogram("probe_seconds", "a probe", (0.1, 1.0), registry)
    for v in (0.05, 0.1, 0.5, 1.0, 7.0):
        h.observe(v)
    samples = {(s.name, s.labels.get("le")): s.value for family in
               text_string_to_metric_families(generate_latest(registry).decode())
               for s in family.samples}
    assert samples[("probe_seconds_bucket", "0.1")] == 2
    assert samples[("probe_seconds_bucket", "1.0")] == 4
    assert samples[("probe_seconds_bucket", "+Inf")] == 5
    assert samples[("probe_seconds_count", None)] == 5
    assert samples[("probe_seconds_sum", None)] == 8.65
