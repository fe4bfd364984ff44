"""Reading /metrics as Prometheus would: parsed with prometheus-client's own parser."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
from prometheus_client.parser import text_string_to_metric_families

TOKEN = "metrics-token-for-tests-0123456789"


def scrape(
    base_url: str, token: str = TOKEN
) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Every sample of a scrape: {sample name: {sorted labels: value}}."""
    response = httpx.get(
        f"{base_url}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            key = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "pid"))
            into = samples.setdefault(sample.name, {})
            into[key] = into.get(key, 0.0) + sample.value
    return samples


def value(
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]], name: str, **labels: str
) -> float:
    """One sample's value (summed over the labels not given)."""
    wanted = set(labels.items())
    found = [v for key, v in samples.get(name, {}).items() if wanted <= set(key)]
    assert found, f"no sample {name}{labels} in the scrape"
    return sum(found)


def until(
    base_url: str,
    check: Callable[[dict[str, dict[tuple[tuple[str, str], ...], float]]], bool],
    within: float = 20.0,
) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Scrape until `check` holds (metrics are brought up to date each second)."""
    deadline = time.monotonic() + within
    while True:
        samples = scrape(base_url)
        if check(samples):
            return samples
        assert time.monotonic() < deadline, "the metrics did not show it in time"
        time.sleep(0.1)
