"""The local run: the real `function_app` served on 127.0.0.1 without Azure.

HTTP triggers are served by a small threaded HTTP host; Service Bus triggers are
driven from the embedded durable queue; the crosswalk is embedded SQLite; the
Millennium simulator answers MLLP. No cloud account, Docker or Core Tools.
"""
