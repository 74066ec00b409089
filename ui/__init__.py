"""The browser workspace (`tessera ui`): reviewers pick takes and decide on held variants.

A door like the CLI: it calls the application core (pipeline.takes, pipeline.review) and nothing
else decides or records. No Prefect, no click.
"""
from ui.accounts import UserError, Users
from ui.app import create_app
from ui.serve import BindError, check_bind, serve

__all__ = ["BindError", "UserError", "Users", "check_bind", "create_app", "serve"]
