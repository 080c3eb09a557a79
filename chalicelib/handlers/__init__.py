"""The HTTP routes, one module per audience (applicants, partners, staff), registered by app.py."""
