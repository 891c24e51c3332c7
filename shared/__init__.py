"""Domain and adapters of the Orbit ⇄ Millennium integration.

Nothing in this package reads settings or does I/O at import time: an import
error in Azure silently drops every function of the app.
"""
