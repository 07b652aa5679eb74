"""SnapshotCache: one snapshot template per key (a function version's revision), made on first
use and shared by every environment of that key.

Scheduling policy:

* The first ``spawn(key, ...)`` makes the template (its init runs once, in the template), from
  ``template_spec`` when given (an environment of its own: the caller may give it other
  variables, such as credentials of its own), else from the spec of the environment asked for;
  concurrent calls for the same key wait for that one template instead of running init
  themselves, then each forks its environment from it.
* When the template's init or before-snapshot hooks fail, the waiting calls fall back to plain
  environments (a cold start with init), so that the failure is reported exactly as without
  snapshot starts; the next call tries a template again.
* A template lives while it has restored environments (they live in a PID namespace nested in
  its own). ``drop(key)`` retires it — it is destroyed when its last environment goes — and a
  template with no environment for ``idle_s`` seconds is destroyed too (its memory is the
  function's whole initialised heap). A dead template is replaced on the next call.

State is owned by the factory's event loop: ``_templates`` maps key -> live template,
``_making`` key -> the task making its template.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from typing import TYPE_CHECKING

from .api import OutputCallback
from .template import SnapshotFailed, SnapshotTemplate
from .types import EnvironmentSpec, LogRecord, SpawnError

if TYPE_CHECKING:
    from .environment import ForkServerEnvironment
    from .forkserver import ForkServerFactory

log = logging.getLogger(__name__)

TEMPLATE_IDLE_S = 600.0


class SnapshotCache:
    def __init__(self, factory: ForkServerFactory, idle_s: float = TEMPLATE_IDLE_S) -> None:
        self._factory = factory
        self.idle_s = idle_s
        self._templates: dict[str, SnapshotTemplate] = {}
        self._making: dict[str, asyncio.Task[SnapshotTemplate | None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._timers: dict[SnapshotTemplate, asyncio.TimerHandle] = {}

    def get(self, key: str) -> SnapshotTemplate | None:
        template = self._templates.get(key)
        return template if template is not None and template.alive else None

    async def spawn(
        self,
        key: str,
        spec: EnvironmentSpec,
        on_output: OutputCallback,
        template_spec: EnvironmentSpec | None = None,
    ) -> ForkServerEnvironment:
        for attempt in (1, 2):
            template = await self.template(key, spec, on_output, template_spec)
            if template is None:
                return await self._factory.spawn(spec, on_output)
            self._cancel_timer(template)
            try:
                return await self._factory.spawn_from(template, spec, on_output)
            except SpawnError:
                if not template.children:
                    self._childless(template)
                if template.alive or attempt == 2:
                    raise
                # The template died under us (killed, its fork server gone): one more try,
                # with a new template.
        raise AssertionError("unreachable")

    async def template(
        self,
        key: str,
        spec: EnvironmentSpec,
        on_output: OutputCallback,
        template_spec: EnvironmentSpec | None = None,
    ) -> SnapshotTemplate | None:
        """The live template for ``key``, made from ``template_spec`` (else ``spec``) if
        needed; None when its init failed (the caller starts a plain environment). Its output
        goes to ``spec``'s environment's log."""
        template = self._templates.get(key)
        if template is not None and template.alive:
            return template
        if template is not None:
            log.warning("snapshot template %s died; making a new one", template.env.env_id)
            self._retire(key)
        task = self._making.get(key)
        if task is None:
            made = self._make(key, spec.env_id, template_spec or spec, on_output)
            task = asyncio.get_running_loop().create_task(made)
            self._making[key] = task
            task.add_done_callback(lambda _t: self._making.pop(key, None))
        return await asyncio.shield(task)

    async def _make(
        self, key: str, asker: str, spec: EnvironmentSpec, on_output: OutputCallback
    ) -> SnapshotTemplate | None:
        # The template's output (its init's prints, its hooks') goes to the log of the
        # environment that asked for it, like a plain cold start's init output.

        def forward(_env_id: str, chunk: bytes | LogRecord) -> None:
            on_output(asker, chunk)

        template_spec = dataclasses.replace(spec, env_id=f"snap-{uuid.uuid4().hex[:24]}")
        try:
            template = await self._factory.snapshot(template_spec, forward)
        except SnapshotFailed as e:
            log.info("snapshot of %s failed (%s): plain environments until a retry", key, e)
            return None
        template.on_childless = self._childless
        self._templates[key] = template
        self._childless(template)  # the idle clock runs until its first environment
        return template

    def drop(self, key: str) -> None:
        task = self._making.pop(key, None)
        if task is not None:  # retire it as soon as it is made
            task.add_done_callback(lambda t: self._retire_made(t))
        self._retire(key)

    def _retire_made(self, task: asyncio.Task[SnapshotTemplate | None]) -> None:
        if not task.cancelled() and task.exception() is None:
            template = task.result()
            if template is not None:
                for key, value in list(self._templates.items()):
                    if value is template:
                        self._retire(key)

    def _retire(self, key: str) -> None:
        template = self._templates.pop(key, None)
        if template is None:
            return
        template.retired = True
        if not template.children or not template.alive:
            self._destroy(template)

    def _childless(self, template: SnapshotTemplate) -> None:
        """The last restored environment of ``template`` is gone."""
        if template.retired or not template.alive:
            self._destroy(template)
            return
        loop = asyncio.get_running_loop()
        self._cancel_timer(template)
        self._timers[template] = loop.call_later(self.idle_s, self._expire, template)

    def _expire(self, template: SnapshotTemplate) -> None:
        self._timers.pop(template, None)
        if template.children:
            return
        for key, value in list(self._templates.items()):
            if value is template:
                del self._templates[key]
        self._destroy(template)

    def _cancel_timer(self, template: SnapshotTemplate) -> None:
        timer = self._timers.pop(template, None)
        if timer is not None:
            timer.cancel()

    def _destroy(self, template: SnapshotTemplate) -> None:
        self._cancel_timer(template)
        task = asyncio.get_running_loop().create_task(self._factory.destroy_template(template))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def close(self) -> None:
        """Forget every template (the factory destroys them) and stop every timer."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for task in self._making.values():
            task.cancel()
        self._templates.clear()
