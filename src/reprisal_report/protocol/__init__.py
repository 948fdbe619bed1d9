"""What a profile and the relay both speak, with no web framework and no HTTP client.

- ``requests_auth``: the signed-request headers every ``/v1/`` call carries;
- ``receipts``: signed tree heads and receipts, and how anyone checks them;
- ``merkle``: RFC 6962 / RFC 9162 hashing and proofs of the relay's log;
- ``wire``: the JSON shapes of the bundle list and the acknowledgement.

``relay/`` (the server) and ``transport/`` (the client) import this package and never
each other. See docs/relay.md.
"""
