"""HTTP plumbing: the contract, cross-field input rules, the OpenAPI document, staff authentication."""
