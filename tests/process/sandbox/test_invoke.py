from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
from sandbox_helpers import Mount, Output, make_code, make_spec, request, run

from shoal.sandbox.forkserver import ForkServerFactory
from shoal.sandbox.types import LogRecord

CONTEXT_APP = """
import json, os, sys, time
def handler(event, context):
    return {
        "event": event,
        "request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "arn": context.invoked_function_arn,
        "memory": context.memory_limit_in_mb,
        "group": context.log_group_name,
        "stream": context.log_stream_name,
        "remaining": context.get_remaining_time_in_millis(),
        "identity": context.identity.cognito_identity_id,
        "client_custom": context.client_context.custom if context.client_context else None,
        "environ": dict(os.environ),
        "cwd": os.getcwd(),
        "sys_path0": sys.path[0],
        "tz": time.tzname[0],
    }
"""


def test_trivial_handler_returns_its_json(code_root: Path) -> None:
    code = make_code(code_root, "def handler(event, context):\n    return {'ok': event['x'] + 1}\n")

    async def body(factory: ForkServerFactory) -> None:
        env = await factory.spawn(make_spec(code), Output())
        init = await env.init()
        assert init.error is None and init.duration_ms > 0
        for i in range(3):
            result = await env.invoke(request(json.dumps({"x": i}).encode()))
            assert result.kind == "success"
            assert json.loads(result.payload) == {"ok": i + 1}
            assert result.max_memory_used_mb > 0
        assert env.alive
        await env.destroy()

    run(body)


@pytest.mark.parametrize("runtime", ["python3.8", "python3.12", "python3.13"])
def test_other_runtimes(code_root: Path, runtime: str) -> None:
    code = make_code(
        code_root, "import sys\ndef handler(e, c):\n    return list(sys.version_info[:2])\n"
    )

    async def body(factory: ForkServerFactory) -> None:
        assert runtime in factory.runtimes()
        env = await factory.spawn(make_spec(code, runtime=runtime), Output())
        assert (await env.init()).error is None
        result = await env.invoke(request())
        assert json.loads(result.payload) == [3, int(runtime.split(".")[1])]

    run(body)


def test_event_and_context_fields(code_root: Path) -> None:
    code = make_code(code_root, CONTEXT_APP)
    environ = {
        "PATH": "/usr/bin:/bin",
        "TZ": "Europe/Paris",
        "MY_VAR": "hello",
        "AWS_LAMBDA_FUNCTION_NAME": "fn",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/fn",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2024/01/01/[$LATEST]abc",
    }

    async def body(factory: ForkServerFactory) -> dict:
        env = await factory.spawn(make_spec(code, environment=environ, memory_mb=256), Output())
        await env.init()
        req = request(b'{"k": [1, 2]}', request_id="req-123", timeout_s=10)
        req = type(req)(**{**req.__dict__, "client_context": '{"custom": {"a": "b"}}'})
        result = await env.invoke(req)
        assert result.kind == "success", result.payload
        empty = await env.invoke(request(b""))
        assert json.loads(empty.payload)["event"] == {}
        return json.loads(result.payload)

    out = run(body)
    assert out["event"] == {"k": [1, 2]}
    assert out["request_id"] == "req-123"
    assert out["function_name"] == "fn" and out["function_version"] == "$LATEST"
    assert out["arn"] == "arn:aws:lambda:us-east-1:123456789012:function:fn"
    assert out["memory"] == 256
    assert out["group"] == "/aws/lambda/fn" and out["stream"] == "2024/01/01/[$LATEST]abc"
    assert 2000 < out["remaining"] <= 3000  # the function timeout (3 s) bounds the deadline
    assert out["identity"] is None and out["client_custom"] == {"a": "b"}
    assert out["environ"] == environ
    assert out["cwd"] == "/var/task" and out["sys_path0"] == "/var/task"
    assert out["tz"] in ("CET", "CEST")


def test_pythonpath_from_environment_takes_effect(code_root: Path) -> None:
    lib = code_root / "lib"
    lib.mkdir()
    lib.chmod(0o755)
    (lib / "extra_mod.py").write_text("VALUE = 'from pythonpath'\n")
    (lib / "extra_mod.py").chmod(0o644)
    code = make_code(
        code_root, "import extra_mod\ndef handler(e, c):\n    return extra_mod.VALUE\n"
    )
    spec = make_spec(
        code,
        mounts=(Mount(str(lib), "/mnt/lib", readonly=True),),
        environment={"PYTHONPATH": "/mnt/lib"},
    )

    async def body(factory: ForkServerFactory) -> bytes:
        env = await factory.spawn(spec, Output())
        assert (await env.init()).error is None
        return (await env.invoke(request())).payload

    assert json.loads(run(body)) == "from pythonpath"


def test_handler_exception_shape(code_root: Path) -> None:
    code = make_code(code_root, "def handler(e, c):\n    raise KeyError('nope')\n")

    async def body(factory: ForkServerFactory) -> tuple[str, dict]:
        env = await factory.spawn(make_spec(code), Output())
        await env.init()
        result = await env.invoke(request(request_id="rid-9"))
        assert env.alive
        return result.kind, json.loads(result.payload)

    kind, doc = run(body)
    assert kind == "error"
    assert doc["errorType"] == "KeyError" and doc["errorMessage"] == "'nope'"
    assert doc["requestId"] == "rid-9"
    assert doc["stackTrace"] == [
        "  File \"/var/task/app.py\", line 2, in handler\n    raise KeyError('nope')\n"
    ]


@pytest.mark.parametrize(
    ("source", "handler", "error_type", "message"),
    [
        (
            "x = 1\n",
            "missing.handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'missing': No module named 'missing'",
        ),
        (
            "x = 1\n",
            "app.handler",
            "Runtime.HandlerNotFound",
            "Handler 'handler' missing on module 'app'",
        ),
        ("def handler(:\n", "app.handler", "Runtime.UserCodeSyntaxError", None),
        ("x = 1\n", "nodot", "Runtime.MalformedHandlerName", None),
        ("raise RuntimeError('boom at init')\n", "app.handler", "RuntimeError", "boom at init"),
    ],
)
def test_init_errors(
    code_root: Path, source: str, handler: str, error_type: str, message: str | None
) -> None:
    code = make_code(code_root, source)

    async def body(factory: ForkServerFactory) -> tuple[dict, dict]:
        env = await factory.spawn(make_spec(code, handler=handler), Output())
        init = await env.init()
        assert init.error is not None
        again = await env.invoke(request(request_id="after-init"))
        assert again.kind == "error"
        return init.error, json.loads(again.payload)

    error, invoke_doc = run(body)
    assert error["errorType"] == error_type
    if message is not None:
        assert error["errorMessage"] == message
    assert invoke_doc["errorType"] == error_type and invoke_doc["requestId"] == "after-init"


def test_marshal_error(code_root: Path) -> None:
    code = make_code(code_root, "def handler(e, c):\n    return {1, 2}\n")

    async def body(factory: ForkServerFactory) -> tuple[str, dict]:
        env = await factory.spawn(make_spec(code), Output())
        await env.init()
        result = await env.invoke(request())
        return result.kind, json.loads(result.payload)

    kind, doc = run(body)
    assert kind == "error" and doc["errorType"] == "Runtime.MarshalError"
    assert doc["errorMessage"] == (
        "Unable to marshal response: Object of type set is not JSON serializable"
    )


def test_output_arrives_before_invoke_returns(code_root: Path) -> None:
    code = make_code(
        code_root,
        """
import logging, os, subprocess, sys
logger = logging.getLogger()
logger.setLevel(logging.INFO)
def handler(e, c):
    print("printed line")
    sys.stderr.write("stderr line\\n")
    logger.info("logged %s", "line")
    os.system("echo from shell")
    subprocess.run(["/bin/sh", "-c", "echo from subprocess >&2"], check=True)
    os.write(1, b"raw fd write\\n")
    print("no newline at end", end="")
    return "done"
""",
    )
    out = Output()

    async def body(factory: ForkServerFactory) -> None:
        env = await factory.spawn(make_spec(code), out)
        await env.init()
        result = await env.invoke(request(request_id="log-rid"))
        assert result.kind == "success", result.payload
        text = out.text
        for piece in (
            "printed line\n",
            "stderr line\n",
            "from shell\n",
            "from subprocess\n",
            "raw fd write\n",
            "no newline at end",
        ):
            assert piece in text
        stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
        assert re.search(rf"^\[INFO\]\t{stamp}\tlog-rid\tlogged line$", text, re.M), text
        assert text.index("printed line") < text.index("from shell") < text.index("raw fd")
        # The record is one item of its own, between the lines printed before and after it.
        assert "logged line" in text.split("stderr line\n")[1].split("from shell")[0]
        assert sum(isinstance(c, LogRecord) for c in out.chunks) == 1

    run(body)


def test_concurrent_environments(code_root: Path) -> None:
    code = make_code(code_root, "import os\ndef handler(e, c):\n    return [e['n'], os.getpid()]\n")

    async def body(factory: ForkServerFactory) -> None:
        envs = await asyncio.gather(*(factory.spawn(make_spec(code), Output()) for _ in range(8)))
        await asyncio.gather(*(env.init() for env in envs))
        results = await asyncio.gather(
            *(env.invoke(request(json.dumps({"n": i}).encode())) for i, env in enumerate(envs))
        )
        assert [json.loads(r.payload) for r in results] == [[i, 2] for i in range(8)]
        assert len({env.pid for env in envs}) == 8
        await asyncio.gather(*(env.destroy() for env in envs))

    run(body)
