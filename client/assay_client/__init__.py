"""Assay client: report runs, metrics and artifacts from training jobs."""
