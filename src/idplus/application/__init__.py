"""The composition root: `create_app` builds the application context and the route table."""
