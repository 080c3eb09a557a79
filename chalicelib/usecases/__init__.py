"""Use cases, one module per capability: they call the rules and storage, and never import HTTP."""
