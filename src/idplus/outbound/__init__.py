"""Calls idplus makes to other servers (back-channel logout)."""
