"""Running a per-image job over a dataset: results, shards, a process pool, progress, exit codes.

Shared by generate_gt, wsps.prepare and wsps.cues: each image is processed by a function that
never raises (it returns an `ImageResult`), so one bad image never stops the others.
"""

from __future__ import annotations

import ctypes
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from tqdm import tqdm

from wsps.io import InputError

log = logging.getLogger(__name__)


@dataclass
class ImageResult:
    """How one image went: `done`, `skipped` (outputs exist) or `failed`, with messages."""

    image_id: str
    status: str
    message: str = ""
    warnings: list[str] = field(default_factory=list)


def process(
    image_id: str, outputs: Iterable[Path], force_overwrite: bool, work: Callable[[], list[str] | None]
) -> ImageResult:
    """One image of a job: skipped before anything is loaded when every output exists (unless
    `force_overwrite`), else `work()`, which returns warnings. Never raises: an `InputError` or
    any other exception fails this image alone, with one line naming it."""
    if not force_overwrite and all(Path(path).exists() for path in outputs):
        return ImageResult(image_id, "skipped")
    try:
        warnings = work() or []
    except InputError as err:
        return ImageResult(image_id, "failed", f"{image_id}: {err}")
    except Exception as err:  # a bug must not stop the other images either
        return ImageResult(image_id, "failed", f"{image_id}: unexpected {type(err).__name__}: {err}")
    return ImageResult(image_id, "done", warnings=list(warnings))


@dataclass
class Summary:
    """Counts per status and the failure messages of a run."""

    counts: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return self.counts["failed"]

    def __str__(self) -> str:
        total = sum(self.counts.values())
        return (
            f"{total} image(s): {self.counts['done']} written, {self.counts['skipped']} skipped "
            f"(outputs exist), {self.failed} failed"
        )


class JobFailed(RuntimeError):
    """Some images failed; raised in a multirun so that the other jobs still run."""


def keep_freed_memory(limit_mb: int = 256) -> bool:
    """Ask glibc to keep freed memory for reuse instead of returning it to the system.

    Every image allocates and frees a few dozen arrays of 2-8 MB; by default glibc maps each
    afresh and the first touch of every page faults, which costs more than some cleaning stages
    (about 9,000 faults per 1024x2048 image). The peak memory is unchanged. No-op off glibc.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        return bool(libc.mallopt(m_mmap_threshold, limit_mb << 20) and libc.mallopt(m_trim_threshold, limit_mb << 20))
    except (OSError, AttributeError):
        return False


def shard(ids: Sequence[str], shard_index: int, num_shards: int) -> list[str]:
    """Every `num_shards`-th id from `shard_index`: disjoint shards that cover the list and mix cities."""
    return list(ids[shard_index::num_shards])


def map_images(
    fn: Callable[[str], ImageResult],
    ids: Sequence[str],
    num_workers: int,
    desc: str,
    initializer: Callable[[], None] | None = None,
) -> Iterator[ImageResult]:
    """Apply `fn` to every id, in a process pool when `num_workers > 1`, with a progress bar."""
    if num_workers > 1 and len(ids) > 1:
        with ProcessPoolExecutor(max_workers=min(num_workers, len(ids)), initializer=initializer) as pool:
            yield from tqdm(pool.map(fn, ids), total=len(ids), desc=desc, unit="img", disable=None)
    else:
        yield from tqdm(map(fn, ids), total=len(ids), desc=desc, unit="img", disable=None)


def collect(results: Iterable[ImageResult], total: int) -> Summary:
    """Log failures and warnings as they come, progress every 100 images, and count."""
    summary = Summary()
    for k, result in enumerate(results, start=1):
        summary.counts[result.status] += 1
        for warning in result.warnings:
            log.warning(warning)
        if result.status == "failed":
            summary.failures.append(result.message)
            log.error(result.message)
        if k % 100 == 0:
            log.info("processed %d/%d", k, total)
    return summary


def run_job(name: str, job: Callable[[], Summary], errors: tuple[type[Exception], ...]) -> Summary | None:
    """Run a per-image job for a command line: one error line and exit 2 when it cannot start
    (bad options, no list: `errors`), exit 1 when any image failed, 0 otherwise."""
    try:
        summary = job()
    except errors as err:
        log.error("%s", err)
        finish(2, str(err))
        return None
    finish(1 if summary.failed else 0, f"{name}: {summary}")
    return summary


def finish(exit_code: int, message: str) -> None:
    """Exit with `exit_code` unless it is 0: SystemExit in a single run, an exception in a sweep
    (SystemExit would stop the remaining jobs of a multirun)."""
    if not exit_code:
        return
    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        raise JobFailed(message)
    raise SystemExit(exit_code)
