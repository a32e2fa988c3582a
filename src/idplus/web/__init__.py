"""The HTTP front: ASGI app, route table and thin endpoints over `protocol`."""
