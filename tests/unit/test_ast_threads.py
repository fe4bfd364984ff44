"""Parsing Python while another thread formats tracebacks (tests/ast_threads.py)."""

from __future__ import annotations

import ast
import gc
import sys
import threading
import traceback

#: A statement deep enough that its parse allocates many nodes (and so runs the collector).
SOURCE = "x = " + " + ".join(f"f(a{n}, [b{n}, {{c{n}: d{n}}}])" for n in range(300)) + "\n"


class _Finalised:
    def __del__(self) -> None:
        sum(range(50))  # Python code in a finalizer: where another thread gets its turn


def _format_tracebacks(stop: threading.Event) -> None:
    def fail() -> float:
        a, b = 1, 0
        return a / b + a

    while not stop.is_set():
        try:
            fail()
        except ZeroDivisionError as exc:
            traceback.format_exception(exc)  # (3.11 parses the line for its ^^^ markers)


def test_parsing_survives_tracebacks_formatted_on_another_thread() -> None:
    # Without tests/ast_threads.py, CPython 3.11.7 failed most of these parses with
    # "SystemError: AST constructor recursion depth mismatch".
    thresholds, interval = gc.get_threshold(), sys.getswitchinterval()
    stop = threading.Event()
    other = threading.Thread(target=_format_tracebacks, args=(stop,), daemon=True)
    gc.set_threshold(50, 5, 5)
    sys.setswitchinterval(1e-5)
    other.start()
    try:
        for _ in range(20):
            garbage = [_Finalised() for _ in range(20)]
            for item in garbage:
                item.cycle = item  # type: ignore[attr-defined]  (freed by the collector)
            del garbage
            assert isinstance(ast.parse(SOURCE), ast.Module)
    finally:
        stop.set()
        other.join()
        gc.set_threshold(*thresholds)
        sys.setswitchinterval(interval)
