"""The process's Prometheus metrics (docs/operations.md, "Metrics"), served
at ``GET /metrics`` (api/metrics.py) with the official client library.

A leaf like config.py: it imports nothing of Tidings, so every layer that
measures something (the writer, the services, the edges) can count here.
On the hot path (a message's commit, ack and fan-out) the counting is once
per writer batch, or one histogram observation per ack, in plain ints on the
event loop's thread (``LoopCounter``, ``LoopHistogram``), exported at scrape
time: the library's metrics take a lock per increment (prometheus' share of
the loop's Python per message was ~7 %, issue 19). Children of labelled
metrics are bound once, here, never looked up per message. What a scrape can
read for itself (connections, the depth and age of the durable queues) is
read at scrape time (api/metrics.py), not counted as it happens."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence
from itertools import accumulate

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
)
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

# Tidings' own registry, with the process's figures (CPU, memory, open files,
# the collector's passes) as the default registry has them.
REGISTRY = CollectorRegistry(auto_describe=True)
for _collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
    REGISTRY.register(_collector)


class LoopHistogram(Collector):
    """A histogram observed from one event loop's thread only, for what is
    observed once per message: a list index and two additions (~0.3 us,
    where the library's Histogram takes a lock per bucket and per sum,
    ~1-4 us). Exposed as a normal Prometheus histogram at scrape time."""

    def __init__(self, name: str, documentation: str, buckets: Sequence[float],
                 registry: CollectorRegistry) -> None:
        self.name = name
        self.documentation = documentation
        self.bounds = list(buckets)
        self.counts = [0] * (len(self.bounds) + 1)  # the last one: over every bound
        self.sum = 0.0
        registry.register(self)

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    def collect(self) -> Iterator[HistogramMetricFamily]:
        cumulative = list(accumulate(self.counts))
        buckets = [(repr(float(b)), c) for b, c in zip(self.bounds, cumulative, strict=False)]
        buckets.append(("+Inf", cumulative[-1]))
        yield HistogramMetricFamily(self.name, self.documentation, buckets=buckets,
                                    sum_value=self.sum)


class Count:
    """One child of a ``LoopCounter``: an int that only grows."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0

    def inc(self, amount: int = 1) -> None:
        self.value += amount


class LoopCounter(Collector):
    """A labelled counter counted from one event loop's thread only (an int
    addition, where the library's Counter takes a lock), with its children
    made up front; exposed as a normal Prometheus counter at scrape time."""

    def __init__(self, name: str, documentation: str, labels: Sequence[str],
                 children: Sequence[tuple[str, ...]], registry: CollectorRegistry) -> None:
        self.name = name
        self.documentation = documentation
        self.label_names = list(labels)
        self.children = {values: Count() for values in children}
        registry.register(self)

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.label_names)
        for values, count in self.children.items():
            family.add_metric(list(values), count.value)
        yield family


_LATENCY = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
            2.5, 5.0, 10.0)

# -- connections and logins (gateway/) ----------------------------------------------
WS_OPENED = Counter("tidings_ws_connections_opened", "WebSocket connections accepted",
                    registry=REGISTRY)
WS_OPEN = Gauge("tidings_ws_connections_open", "WebSocket connections open now "
                "(logged in or not)", registry=REGISTRY)
LOGINS = Counter("tidings_logins", "WebSocket logins, by result (ok, refused)",
                 ["result"], registry=REGISTRY)
LOGIN_OK = LOGINS.labels("ok")
LOGIN_REFUSED = LOGINS.labels("refused")

# -- messages (services/messaging/delivery.py) -----------------------------------------
ENTRY_KINDS = ("message", "recall", "edit", "system")  # domain.elements.EntryKind's order
ENTRIES = LoopCounter("tidings_entries_committed", "Entries committed by the writer, by kind "
                      "(message, recall, edit, system) and conversation (c2c, group)",
                      ["kind", "conversation"],
                      [(k, c) for k in ENTRY_KINDS for c in ("c2c", "group")], REGISTRY)
DELIVERED = LoopCounter("tidings_frames_delivered", "Live frames handed to connected devices, "
                        "by entry kind (message, recall, edit, system)", ["kind"],
                        [(k,) for k in ENTRY_KINDS], REGISTRY)
ENTRY_COUNTERS = ENTRIES.children
DELIVERED_COUNTERS = {k: DELIVERED.children[(k,)] for k in ENTRY_KINDS}
ACK_LATENCY = LoopHistogram("tidings_ack_latency_seconds", "From a WebSocket write's frame "
                            "(send, recall, edit) to its ack, which follows the commit",
                            _LATENCY, REGISTRY)

# -- the writer (store/writer/core.py) ------------------------------------------------
# Observed by the writer's task on its event loop, once a batch: for a
# message that commits alone the library's two histograms were ~7 us of the
# loop's work (bench/writer_alone.py under py-spy --gil).
WRITER_BATCH = LoopHistogram("tidings_writer_batch_size", "Entries per writer transaction "
                             "(group commit)", (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
                             REGISTRY)
WRITER_COMMIT = LoopHistogram("tidings_writer_commit_seconds", "Time to write and commit one "
                              "batch", _LATENCY, REGISTRY)
WRITER_FAILURES = Counter("tidings_writer_failed_batches", "Batches that failed to commit "
                          "(their senders got 50003 and retry)", registry=REGISTRY)

# -- requests (gateway/ ops, api/ routes) -----------------------------------------------
WS_OP_LATENCY = Histogram("tidings_ws_op_seconds", "Time to answer a WebSocket op "
                          "(sync, history)", ["op"], buckets=_LATENCY, registry=REGISTRY)
SYNC_LATENCY = WS_OP_LATENCY.labels("sync")
HISTORY_LATENCY = WS_OP_LATENCY.labels("history")
HTTP_REQUESTS = Counter("tidings_http_requests", "REST requests, by method, route template "
                        "and status", ["method", "route", "status"], registry=REGISTRY)
HTTP_LATENCY = Histogram("tidings_http_request_seconds", "REST request duration, by route "
                         "template", ["route"], buckets=_LATENCY, registry=REGISTRY)
ERRORS = Counter("tidings_errors", "Error answers, by edge (http, ws) and Tidings error code",
                 ["edge", "code"], registry=REGISTRY)

# -- callbacks (services/callbacks.py) -------------------------------------------------
CALLBACK_LATENCY = Histogram("tidings_callback_seconds", "Callback requests to app servers, "
                             "by event", ["event"], buckets=_LATENCY, registry=REGISTRY)
CALLBACK_FAILURES = Counter("tidings_callback_failures", "Callback requests that failed "
                            "(timeout, refused, bad status or answer), by event",
                            ["event"], registry=REGISTRY)

# -- media (services/media_uploads.py) ------------------------------------------------
MEDIA_BYTES = Counter("tidings_media_bytes_stored", "Bytes of uploaded media stored "
                      "(originals, before image versions)", registry=REGISTRY)

# -- what a scrape reads (api/metrics.py) -------------------------------------------------
LOGGED_IN = Gauge("tidings_sessions_logged_in", "Logged-in WebSocket sessions",
                  registry=REGISTRY)
QUEUE_DEPTH = Gauge("tidings_queue_depth", "Rows waiting in a durable queue (callbacks: "
                    "the after-callback outbox; push_jobs; push_sends)", ["queue"],
                    registry=REGISTRY)
QUEUE_AGE = Gauge("tidings_queue_oldest_age_seconds", "Age of the oldest waiting row of a "
                  "durable queue (0 when empty)", ["queue"], registry=REGISTRY)
