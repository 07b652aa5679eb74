"""What an execution environment is made of: its variables, its identity, its spec."""

from __future__ import annotations

from collections.abc import Mapping

from shoal.config import Settings
from shoal.functions.models import FunctionVersion
from shoal.runtime.rootfs import CA_FILE

RUNTIME_DIR = "/var/runtime"
TASK_ROOT = "/var/task"




def environment_variables(
    fn: FunctionVersion,
    settings: Settings,
    log_stream: str,
    init_type: str,
    api_endpoint: str | None = None,
    credentials: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The variables Lambda sets, then the function's own, which override them, then the
    execution role's ``credentials`` (reserved names: a function cannot set them).

    ``api_endpoint`` is Shoal's API as the environment reaches it (``AWS_ENDPOINT_URL``, which
    boto3 and the AWS CLI use for every service); under TLS with Shoal's own CA,
    ``AWS_CA_BUNDLE`` names the CA's copy in the environment."""
    env = {
        "AWS_LAMBDA_FUNCTION_NAME": fn.name,
        "AWS_LAMBDA_FUNCTION_VERSION": fn.version,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
        "AWS_LAMBDA_LOG_GROUP_NAME": fn.log_group,
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
        "AWS_LAMBDA_INITIALIZATION_TYPE": init_type,
        "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001",
        "AWS_REGION": fn.region,  # the function's region, not the server's default
        "AWS_DEFAULT_REGION": fn.region,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.runtime}",
        "LAMBDA_TASK_ROOT": TASK_ROOT,
        "LAMBDA_RUNTIME_DIR": RUNTIME_DIR,
        "_HANDLER": fn.handler,
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
        "PATH": "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin",
        "LD_LIBRARY_PATH": "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:"
        "/var/task:/var/task/lib:/opt/lib",
        "PYTHONPATH": RUNTIME_DIR,
        "HOME": "/tmp",
    }
    if fn.logging.json:
        # Lambda's runtime interface clients read the format and ApplicationLogLevel here.
        env["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
        env["AWS_LAMBDA_LOG_LEVEL"] = fn.logging.application_log_level
    if api_endpoint is not None:
        env["AWS_ENDPOINT_URL"] = api_endpoint
        if api_endpoint.startswith("https:") and settings.tls_ca is not None:
            env["AWS_CA_BUNDLE"] = CA_FILE
    if init_type == "snap-start":
        # OpenMP's worker threads (torch, numpy's BLAS) do not survive fork(): an environment
        # forked from an init that used several of them hangs at its first parallel operation.
        # One thread unless the function says otherwise.
        env["OMP_NUM_THREADS"] = "1"
    env.update(fn.environment)
    if credentials is not None:
        env.update(credentials)
    return env
