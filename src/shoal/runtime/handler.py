"""Parse a handler setting (``module.function``, ``pkg.mod.function``, ``dir/module.function``)
and import it, turning each failure into the error type Lambda reports at init."""

from __future__ import annotations

import importlib
import sys
from typing import Any, Callable  # noqa: UP035 (Handler below is evaluated on 3.8)

from .errors import (
    BUILT_IN_MODULE_CONFLICT,
    HANDLER_NOT_FOUND,
    IMPORT_MODULE_ERROR,
    MALFORMED_HANDLER_NAME,
    USER_CODE_SYNTAX_ERROR,
    FaultException,
)

# Evaluated at run time on Python 3.8 too, hence typing's generics here.
Handler = Callable[[Any, Any], Any]  # noqa: UP006


def parse_handler(handler: str) -> tuple[str, str]:
    """``"dir/pkg.mod.fn"`` -> (``"dir/pkg.mod"``, ``"fn"``); a malformed name is an init error."""
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as e:
        raise FaultException(MALFORMED_HANDLER_NAME, f"Bad handler '{handler}': {str(e)}") from None
    if not modname or not fname or modname.startswith("/") or ".." in modname.split("/"):
        raise FaultException(MALFORMED_HANDLER_NAME, f"Bad handler '{handler}'")
    return modname, fname


def module_import_name(modname: str) -> str:
    return modname.replace("/", ".")


def load_handler(handler: str) -> Handler:
    """Import the handler's module and return the function (raises :class:`FaultException`)."""
    modname, fname = parse_handler(handler)
    import_name = module_import_name(modname)
    if import_name.split(".")[0] in sys.builtin_module_names:
        raise FaultException(
            BUILT_IN_MODULE_CONFLICT, f"Cannot use built-in module {modname} as a handler module"
        )
    try:
        module = importlib.import_module(import_name)
    except ImportError as e:
        raise FaultException(
            IMPORT_MODULE_ERROR, f"Unable to import module '{modname}': {str(e)}"
        ) from None
    except SyntaxError as e:
        trace = [f'  File "{e.filename}" Line {e.lineno}\n    {e.text}']
        raise FaultException(
            USER_CODE_SYNTAX_ERROR, f"Syntax error in module '{modname}': {str(e)}", trace
        ) from None
    function = getattr(module, fname, None)
    if function is None or not callable(function):
        raise FaultException(HANDLER_NOT_FOUND, f"Handler '{fname}' missing on module '{modname}'")
    return function  # type: ignore[no-any-return]
