"""Run a reader in a child process, so that parsing a big file overlaps what the caller does.

A bulk RVS file costs about as much to parse (inflating, cutting out and decoding two
2401-value JSON cells per line) as to ingest (hashing, compressing into the spectrum store,
COPY); in one process both share one GIL. :func:`iter_in_process` runs the reader in a
spawned child and hands its chunks over through a bounded queue (pickled arrays: a copy, about
20 MB per 1 024 spectra), so the two halves run on two cores. Errors travel too: a
:class:`ReadError` raised in the child is raised again, unchanged, in the caller.
"""

from __future__ import annotations

import multiprocessing as mp
import pickle
import queue as queue_mod
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .chunks import Chunk
from .errors import ReadError

_DONE = "done"


def iter_in_process(
    reader: Callable[..., Iterator[Chunk]], path: str | Path, depth: int = 2, **kwargs: Any
) -> Iterator[Chunk]:
    """``reader(path, **kwargs)`` run in a child process; its chunks, in order.

    ``reader`` must be importable by name (a module-level function). At most ``depth`` chunks
    wait in the queue, so memory stays bounded whatever the file size. Stopping early (the
    caller's error, or closing the generator) ends the child. As with any spawned process, a
    script that calls this must keep its work under ``if __name__ == "__main__":`` (the child
    imports the script; ``manage.py`` does this).
    """
    if mp.current_process().daemon:  # e.g. a Celery prefork worker: no children allowed
        yield from reader(path, **kwargs)
        return
    ctx = mp.get_context("spawn")  # no fork of a process that holds threads and connections
    chunks = ctx.Queue(maxsize=depth)
    child = ctx.Process(
        target=_produce, args=(reader, str(path), kwargs, chunks), name="reader", daemon=True
    )
    child.start()
    try:
        while True:
            try:
                item = chunks.get(timeout=1.0)
            except queue_mod.Empty:
                if not child.is_alive():
                    raise ReadError(
                        str(path), f"reader process died (exit code {child.exitcode})"
                    ) from None
                continue
            if isinstance(item, str) and item == _DONE:
                break
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        if child.is_alive():
            child.terminate()
        child.join()
        chunks.close()


def _produce(reader: Callable[..., Iterator[Chunk]], path: str, kwargs: dict, chunks) -> None:
    try:
        for chunk in reader(path, **kwargs):
            chunks.put(chunk)
        chunks.put(_DONE)
    except BaseException as exc:  # noqa: BLE001 -- handed to the caller
        try:
            pickle.dumps(exc)
        except Exception:  # noqa: BLE001 -- an error that cannot travel is described instead
            exc = ReadError(path, f"{type(exc).__name__}: {exc}")
        chunks.put(exc)
