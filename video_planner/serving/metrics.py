"""Prometheus metrics of one server (its own registry, so two servers in one process never mix counts)."""

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 1024)


@dataclass
class ServerMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self):
        r = self.registry
        self.requests = Counter("vp_requests", "HTTP requests by route and status", ["route", "status"], registry=r)
        self.plan_seconds = Histogram(
            "vp_plan_request_seconds", "POST /v1/plan latency, queue included", buckets=LATENCY_BUCKETS, registry=r
        )
        self.queue_seconds = Histogram(
            "vp_queue_seconds", "time a plan request waited for its model call", buckets=LATENCY_BUCKETS, registry=r
        )
        self.model_calls = Counter("vp_model_calls", "batched model calls", registry=r)
        self.batch_plans = Histogram("vp_batch_plans", "plans per model call", buckets=BATCH_BUCKETS, registry=r)
        self.model_seconds = Histogram(
            "vp_model_call_seconds", "duration of one model call", buckets=LATENCY_BUCKETS, registry=r
        )
        self.queued_plans = Gauge("vp_queued_plans", "plans waiting for a model call", registry=r)

    def model_call(self, rows: int, seconds: float) -> None:
        self.model_calls.inc()
        self.batch_plans.observe(rows)
        self.model_seconds.observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
