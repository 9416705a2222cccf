"""The production zone's service: acts on approved jobs, models, imports and computations.

Started by JupyterHub as a managed service with no HTTP interface (nothing calls into the
production zone). It polls the platform DB for approved requests and hands each to
:func:`hub.production.executor.act`: jobs run in their sandbox (at most ``concurrent_jobs`` at a
time), models are published, imports catalogued. Jobs a crash interrupted run again at start;
products whose model is still the retired JSON format are migrated to ONNX first.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from hub import home, settings
from hub.audit_anchor import Anchor
from hub.db.engine import Database
from hub.privacy import proposals
from hub.privacy.node import platform_node
from hub.production import executor, model_migration
from spawner import seccomp

log = logging.getLogger("shuyu.production")
POLL_SECONDS = 0.2  # one indexed query; approved work waits at most this long


def serve(
    db: Database,
    stop: threading.Event,
    poll: float = POLL_SECONDS,
    config: settings.Settings | None = None,
) -> None:
    """Act on approved requests until ``stop``; ``config`` the platform's settings (default:
    :func:`hub.settings.load`)."""
    config = config or settings.load()
    store = home.domain_store()
    rules, limits = config.production_rules, config.review_rules.checks
    node = platform_node(config.privacy, home.shuyu_home())
    run = home.shuyu_home() / "run"
    run.mkdir(parents=True, exist_ok=True, mode=0o700)
    bpf = seccomp.write_filter(run / "job-seccomp.bpf")
    # The PII detectors (for releasing logs) take seconds to load: now, not at the first job.
    threading.Thread(target=_warm_up, name="warm-up", daemon=True).start()
    model_migration.migrate_at_start(db)  # models of the retired JSON format become ONNX
    restarted = executor.recover(db)
    if restarted:
        log.info("jobs %s were interrupted; they run again", restarted)
    busy: set[int] = set()
    lock = threading.Lock()

    def work(request_id: int) -> None:
        try:
            executor.act(
                db, request_id, store, rules, limits, bpf, node
            )  # failures end on the request
        except Exception:  # noqa: BLE001 - e.g. the DB gone: the next poll tries again
            log.exception("request %s could not be acted on", request_id)
        finally:
            with lock:
                busy.discard(request_id)

    asked = [0.0]  # when unanswered computations were last proposed again
    asking = threading.Lock()  # one round at a time, however slow the parties answer

    def ask_parties() -> None:
        if not asking.acquire(blocking=False):
            return
        try:
            proposals.refresh(db, node, store, limits)
        except Exception:  # noqa: BLE001 - the next round tries again
            log.exception("could not propose computations again")
        finally:
            asking.release()

    with ThreadPoolExecutor(max(1, rules.concurrent_jobs), thread_name_prefix="job") as pool:
        while not stop.is_set():
            if time.monotonic() - asked[0] > proposals.REFRESH_SECONDS:
                asked[0] = time.monotonic()
                threading.Thread(target=ask_parties, name="proposals", daemon=True).start()
            try:
                waiting = executor.pending(db)
            except Exception:  # noqa: BLE001 - the DB may be briefly unavailable
                log.exception("could not read pending requests")
                waiting = []
            for request_id in waiting:
                with lock:
                    if request_id in busy:
                        continue
                    busy.add(request_id)
                pool.submit(work, request_id)
            stop.wait(poll)


def _warm_up() -> None:
    from hub.masking.detectors import mask_text

    mask_text("患者张三，电话13800000000")


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="[%(levelname)s %(asctime)s production] %(message)s"
    )
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    config = settings.load()  # once, at startup: the one document jupyterhub_config.py hands us
    log.info("production zone polling for approved work")
    db = Database(home.default_db_url(), anchor=Anchor.for_home(home.shuyu_home()))
    serve(db, stop, config=config)


if __name__ == "__main__":
    main()
