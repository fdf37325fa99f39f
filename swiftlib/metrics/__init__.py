"""Numbers from the app. Pure: `scrape` (Prometheus text → window stats), `quantile` (histogram
quantiles as Prometheus computes them), `promql` (the canary window as PromQL). `history` keeps the
bounded series the status and dashboard write."""
