"""Reading /metrics in tests: samples by name and labels."""

from prometheus_client.parser import text_string_to_metric_families

from django.test import Client

Samples = dict[tuple[str, frozenset], float]


def parse(text: str) -> Samples:
    """Return {(sample name, frozenset of label items): value}."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape() -> Samples:
    """Return this process's /metrics, read as Prometheus would (from a local
    address, which METRICS_ALLOWED_ADDRESSES lets in)."""
    response = Client().get("/metrics")
    assert response.status_code == 200, response
    return parse(response.content.decode())


def value(samples: Samples, name: str, **labels: str) -> float:
    """Return one sample's value, 0 when it is not there (yet)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    """Return how much a sample changed between two scrapes."""
    return value(after, name, **labels) - value(before, name, **labels)
