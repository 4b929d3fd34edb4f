"""Prometheus metrics of a logai process (one registry, exposed at `/metrics`)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry()

LINES_IN = Counter("logai_lines_in_total", "Lines received (sources past max_source_labels count as `other`)",
                   ["source", "door"], registry=REGISTRY)
SOURCES_EVICTED = Counter("logai_sources_evicted_total", "Sources whose parser state was unloaded (max_sources)",
                          registry=REGISTRY)
TEMPLATES_EVICTED = Counter("logai_templates_evicted_total", "Templates dropped from a full miner "
                            "(parsing.max_templates, least recently used)", registry=REGISTRY)

# Label cardinality: every new source name would be a new time series. The first `max_source_labels`
# sources keep their name; later ones share `other`.
_source_labels: set[str] = set()
_max_source_labels = 1000


def set_max_source_labels(limit: int) -> None:
    global _max_source_labels
    _max_source_labels = limit


def source_label(source: str) -> str:
    if source in _source_labels:
        return source
    if len(_source_labels) < _max_source_labels:
        _source_labels.add(source)
        return source
    return "other"
EVENTS_STORED = Counter("logai_events_stored_total", "Events written to the store", registry=REGISTRY)
DUPLICATES = Counter("logai_duplicates_total", "Events skipped as already stored (replays)", registry=REGISTRY)
DEAD_LETTERS = Counter("logai_dead_letters_total", "Records that could not be processed", ["reason"],
                       registry=REGISTRY)
ERRORS = Counter("logai_errors_total", "Errors by stage", ["stage"], registry=REGISTRY)
CONSUMER_LAG = Gauge("logai_consumer_lag", "Kafka records not yet consumed", ["topic", "partition"],
                     registry=REGISTRY)
BATCH_SECONDS = Histogram("logai_batch_seconds", "Time to parse and store one batch", ["door"],
                          buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10), registry=REGISTRY)
REQUEST_SECONDS = Histogram("logai_http_request_seconds", "HTTP request latency", ["method", "route", "status"],
                            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5), registry=REGISTRY)
ANOMALIES = Counter("logai_anomalies_total", "Anomalies found in the stream", ["detector"], registry=REGISTRY)
VERDICTS = Counter("logai_route_verdicts_total", "Verdicts by task and path (slm, llm, slm_fallback, cache)",
                   ["task", "path"], registry=REGISTRY)
ROUTE_SECONDS = Histogram("logai_route_seconds", "Time per verdict by path", ["path"],
                          buckets=(0.0001, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30), registry=REGISTRY)
LLM_EXPECTED_ACCURACY = Gauge("logai_route_llm_expected_accuracy", "The LLM's estimated accuracy on the items it "
                              "would get, per task: an item is routed only when this beats the small model's "
                              "confidence", ["task"], registry=REGISTRY)
REVIEWS_DROPPED = Counter("logai_route_reviews_dropped_total", "Deferred verdicts the LLM never reviewed: its "
                          "queue was full", ["task"], registry=REGISTRY)
FEEDBACK = Counter("logai_route_feedback_total", "Operator corrections, by task and action (correct, undo)",
                   ["task", "action"], registry=REGISTRY)
LLM_TOKENS = Counter("logai_route_llm_tokens_total", "LLM tokens spent by the router", ["kind"], registry=REGISTRY)
SYSLOG_UDP_DROPPED = Counter("logai_syslog_udp_dropped_total", "Syslog datagrams dropped: the queue was full",
                             registry=REGISTRY)
DOOR_REJECTED = Counter("logai_door_rejected_total", "Requests or records a door refused, by door and reason",
                        ["door", "reason"], registry=REGISTRY)
INCIDENTS_OPEN = Gauge("logai_incidents_open", "Incidents open or acknowledged", registry=REGISTRY)
INCIDENTS_OPENED = Counter("logai_incidents_opened_total", "Incidents opened, by severity at opening",
                           ["severity"], registry=REGISTRY)
INCIDENT_SIGNALS_DROPPED = Counter("logai_incident_signals_dropped_total", "Abnormal verdicts and anomalies not "
                                   "grouped into incidents: the tracker's queue was full", registry=REGISTRY)
INCIDENT_SUMMARIES = Counter("logai_incident_summaries_total", "Incident summaries, by who wrote them (llm, "
                             "template)", ["by"], registry=REGISTRY)
INCIDENT_SUMMARY_FIELDS = Counter("logai_incident_summary_fields_total", "Fields of LLM-asked incident summaries, by "
                                  "field and who wrote what stands (llm: it passed the checks, template)",
                                  ["field", "by"], registry=REGISTRY)
ALERT_DELIVERIES = Counter("logai_alert_deliveries_total", "Alert delivery attempts by receiver and outcome (sent, "
                           "failed: retried, dead: given up)", ["receiver", "outcome"], registry=REGISTRY)
ALERT_DELAY = Histogram("logai_alert_delivery_delay_seconds", "From a notification's creation to its delivery",
                        ["receiver"], buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600),
                        registry=REGISTRY)
LLM_BUDGET_REFUSED = Counter("logai_llm_budget_refused_total", "LLM calls refused by their budget, by use (route, "
                             "summary) and window (second, day)", ["use", "window"], registry=REGISTRY)
LLM_BUDGET_USED = Gauge("logai_llm_budget_used_today", "LLM calls made today (UTC), by use", ["use"],
                        registry=REGISTRY)
LLM_BUDGET_DAY = Gauge("logai_llm_budget_per_day", "LLM calls allowed per day, by use", ["use"], registry=REGISTRY)
