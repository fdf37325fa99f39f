"""The audit trail and its report: `log` (append-only, hash-chained history), `seal` (its head kept
outside the project), `report` (Markdown) + `report_html`, `charts` (as data) + `svg` (drawn),
`report_files` (writes the report, its SVGs and HTML)."""
