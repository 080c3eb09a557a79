"""HTTP plumbing: the contract, cross-field input rules, the OpenAPI document, the error catalogue, staff authentication."""
