"""Who makes a request: credentials, SigV4 verification, and authorization of every action.

Layering: below ``shoal.api`` (which authenticates every request through it) and above
``shoal.policy`` (the one policy engine) and ``shoal.store``.
"""
