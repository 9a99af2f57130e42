"""laf_core.metrics over prometheus-client: the names and calls the services and tests
use (`<prefix>_<name>_total`, `value`), labels, histograms and the process collectors."""

from prometheus_client.parser import text_string_to_metric_families

from laf_core.metrics import Metrics


def families(metrics: Metrics) -> dict[str, object]:
    return {f.name: f for f in text_string_to_metric_families(metrics.render())}


def test_counters_gauges_and_histograms_keep_their_names():
    metrics = Metrics("laf_test")
    metrics.inc("messages_handled")
    metrics.inc("messages_handled", 2)
    metrics.inc("retries_queued", 0)
    metrics.inc("tasks_finished", executor="noop", outcome="succeeded")
    metrics.inc("tasks_finished", 3, executor="http", outcome="failed")
    metrics.gauge("ready", lambda: 1.0)
    metrics.gauge("ready", lambda: 0.0)  # named again: the new reader wins
    metrics.set("instrument_slots_in_use", 2, instrument="hplc-1")
    metrics.observe("task_duration_seconds", 0.3, executor="noop", instrument="")
    text = metrics.render()
    assert "laf_test_messages_handled_total 3.0" in text
    assert "laf_test_retries_queued_total 0.0" in text
    assert "laf_test_ready 0.0" in text
    assert 'laf_test_instrument_slots_in_use{instrument="hplc-1"} 2.0' in text
    assert 'laf_test_task_duration_seconds_count{executor="noop",instrument=""} 1.0' in text
    assert "_created" not in text
    assert metrics.value("messages_handled") == 3
    assert metrics.value("tasks_finished") == 4
    assert metrics.value("tasks_finished", executor="http") == 3
    assert metrics.value("never_counted") == 0
    found = families(metrics)
    assert found["laf_test_task_duration_seconds"].type == "histogram"
    assert "process_cpu_seconds" in found or "python_gc_objects_collected" in found


def test_each_metrics_has_its_own_registry():
    first, second = Metrics("laf_a"), Metrics("laf_a")
    first.inc("x")
    assert first.value("x") == 1 and second.value("x") == 0
