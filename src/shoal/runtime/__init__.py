"""What runs inside an execution environment: the fork server (zygote), the bootstrap loop,
handler loading, the context object and Lambda's log format.

Everything in this package runs inside the *function's* interpreter (any Python 3.8-3.13), not
the server's: it is pure standard library and imports nothing from ``shoal`` outside this
package. Modules refer to each other with relative imports only, because the zygote loads the
package under a private name (``_shoal_runtime``) so that it can never shadow a user module
called ``handler`` or ``context``.
"""
