"""One module per token-endpoint grant; each takes the authenticated client and the params."""
