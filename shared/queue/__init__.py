"""Queues: a port with a Service Bus adapter and an embedded SQLite one."""
