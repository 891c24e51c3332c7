"""The Azure Functions app: it only registers blueprints.

Importing this module must stay cheap and safe (no settings, no I/O): an import
error in Azure silently drops every function.
"""

import azure.functions as func

from functions.health import bp as health
from functions.launch import bp as launch
from functions.ops import bp as ops
from functions.ops_browser import bp as ops_browser
from functions.orbit_webhook import bp as orbit_webhook
from functions.retention import bp as retention
from functions.sync_workers import bp as sync_workers

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(orbit_webhook)
app.register_functions(sync_workers)
app.register_functions(ops)
app.register_functions(ops_browser)
app.register_functions(launch)
app.register_functions(health)
app.register_functions(retention)
