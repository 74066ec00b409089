"""The application core every door calls: a workspace per run, the per-variant pipeline, publish, audit."""
