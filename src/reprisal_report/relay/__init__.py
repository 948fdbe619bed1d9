"""The delivery relay: content-addressed ciphertext storage behind signed requests.

The submodules that do not need a web framework (``merkle``, ``receipts``, ``keys``,
``config``) are safe to import from the CLI; ``app`` and ``server`` pull in FastAPI and
uvicorn and must only be imported when a relay is actually served. See docs/relay.md.
"""
