"""Measuring a target: `canary_window` (scrapes through the admin listener), `prometheus_window` (the
same window from a Prometheus server), `status` (one frame of the live status) and `status_feed`
(frames in a background thread)."""
