"""Prefect flows and the `tessera` CLI: the only package that knows about Prefect."""
__all__ = ["render_catalog", "run_render"]


def __getattr__(name):
    # Importing the CLI must not pay for importing Prefect.
    if name == "run_render":
        from flows.start import run_render
        return run_render
    if name in __all__:
        from flows import render
        return getattr(render, name)
    raise AttributeError(name)
