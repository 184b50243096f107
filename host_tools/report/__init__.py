"""pumpctl report: plots of a status recording, an event log or a HIL run, as PNGs or one HTML page (docs/report.md)."""
