"""One thread at a time in `ast.parse`, on CPython before 3.11.8.

Those versions keep one recursion counter for every thread's AST construction
(python/cpython#106905, fixed in 3.11.8). When the garbage collector runs a finalizer in
the middle of a parse, another thread may parse meanwhile, and the first parse then fails
with `SystemError: AST constructor recursion depth mismatch`. Python 3.11's traceback module
parses source lines for its ^^^ markers, so a server thread logging a traceback while pytest
formats a failure (which parses the test's source) ended a whole run with an INTERNALERROR.
The tests' process therefore serialises `ast.parse` (tests/unit/test_ast_threads.py).
"""

from __future__ import annotations

import ast
import gc
import sys
import threading
from typing import Any

#: The first CPython 3.11 whose parses keep their own recursion counters.
FIXED_IN = (3, 11, 8)


def serialise_ast_parse() -> None:
    """Wrap `ast.parse` in a lock (re-entrant: a finalizer may parse too), once."""
    if sys.version_info >= FIXED_IN or getattr(ast.parse, "_serialised", False):
        return
    parse = ast.parse
    lock = threading.RLock()

    def serialised(*args: Any, **kwargs: Any) -> Any:
        # And no collection during the parse: a finalizer run by it on this thread (a task
        # destroyed while pending logged from inside ast.parse) can reach a parse nested in
        # this one, which the lock (re-entrant) lets through, and the counter broke so in a
        # loaded two-process run.
        with lock:
            collecting = gc.isenabled()
            gc.disable()
            try:
                return parse(*args, **kwargs)
            finally:
                if collecting:
                    gc.enable()

    serialised._serialised = True  # type: ignore[attr-defined]
    ast.parse = serialised  # type: ignore[assignment]
