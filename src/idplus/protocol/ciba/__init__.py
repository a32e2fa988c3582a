"""CIBA Core 1.0: a back end asks idplus to have a user approve a login on their phone."""
